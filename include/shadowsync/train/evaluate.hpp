// Evaluation of a trained model on a block of examples: logits in parallel (oneTBB, one
// ModelWorkspace per thread), then the CTR metrics (NE, log loss, AUC, calibration).
#pragma once

#include <vector>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/model/model.hpp"

namespace shadowsync {

// Logits of every row of `data` (one view or the parts of several files), in row order. `dense` and `embeddings` must not change while
// this runs.
std::vector<float> predict_all_logits(const Model& model, const float* dense,
                                      const EmbeddingStore& embeddings, const DataParts& data);

// Metrics of the model on `data` (an empty view gives an empty accumulator).
BinaryMetrics evaluate_model(const Model& model, const float* dense,
                             const EmbeddingStore& embeddings, const DataParts& data);

}  // namespace shadowsync
