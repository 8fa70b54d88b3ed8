// Model: a DLRM-style CTR model (Naumov et al. 2019) made from a ModelConfig. It holds only the
// architecture and its DenseLayout; the parameters live in buffers the caller owns (a dense
// replica of layout().total_floats floats, an EmbeddingStore), so many replicas and many worker
// threads can share one Model. Compute is in ModelWorkspace.
#pragma once

#include <cstdint>

#include "shadowsync/model/dense_layout.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

class Model {
 public:
  // Validates the config (throws Error).
  explicit Model(ModelConfig config);

  const ModelConfig& config() const { return config_; }
  const DenseLayout& layout() const { return layout_; }

  // DLRM scheme: W ~ N(0, sqrt(2 / (fan_in + fan_out))), b ~ N(0, sqrt(1 / fan_out)); padding
  // set to 0; dcn cross layers as torchrec's CrossNet: W (low rank: U and V) Xavier normal
  // N(0, sqrt(2 / (fan_in + fan_out))), bias 0. `dense` has layout().total_floats floats. Same seed, same values, on every run
  // (counter-based generator, no library distributions).
  void init_dense(float* dense, uint64_t seed) const;
  // DLRM scheme: every entry of table t ~ U(-sqrt(1/rows_t), sqrt(1/rows_t)); accumulators and
  // padding 0. Parallel over tables and row blocks with oneTBB, deterministic for a seed. The
  // store must have this model's hashing and embedding_dim (else Error).
  void init_embeddings(EmbeddingStore& store, uint64_t seed) const;

 private:
  ModelConfig config_;
  DenseLayout layout_;
};

}  // namespace shadowsync
