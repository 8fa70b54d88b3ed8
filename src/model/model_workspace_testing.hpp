// Test access to ModelWorkspace's passes: a forward and a backward pass on different weights,
// as when other Hogwild threads update the replica between the two. Tests only.
#pragma once

#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {

struct ModelWorkspaceTesting {
  // loss_and_gradients(batch, ...) (dense gradients only) with the forward pass reading the
  // weights `dense_forward` and the backward pass reading `dense_backward` wherever it reads
  // weights (both: layout().total_floats floats). Returns the mean loss.
  static float loss_and_gradients_weights_changed(ModelWorkspace& workspace, DataView batch,
                                                  const float* dense_forward, const float* dense_backward,
                                                  const EmbeddingStore& embeddings, float* dense_grad);
};

}  // namespace shadowsync
