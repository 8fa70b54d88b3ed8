// StepFixture: the inputs every training-step benchmark shares (model_bench, step_phases_bench):
// one model, replica and table set of a preset, and 32k rows of uniform random examples (seed 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/data/data_view.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"

namespace shadowsync {

// Shared state of the step benchmarks: one model, replica and table set per preset.
struct StepFixture {
  ModelConfig config;
  Model model;
  AlignedFloatBuffer dense, dense_state;
  EmbeddingStore store;
  std::vector<float> labels, features;
  std::vector<uint32_t> sparse;
  static constexpr size_t kRows = 1 << 15;

  explicit StepFixture(const char* preset)
      : config(ModelConfig::preset(preset, HashingConfig::uniform())),
        model(config),
        dense(model.layout().total_floats),
        dense_state(model.layout().total_floats),
        store(config.hashing, config.embedding_dim) {
    model.init_dense(dense.data(), 1);
    model.init_embeddings(store, 1);
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> x(0.0f, 4.0f);
    for (size_t r = 0; r < kRows; ++r) {
      labels.push_back(float(rng() % 4 == 0));
      for (int j = 0; j < kNumNumeric; ++j) features.push_back(x(rng));
      for (int t = 0; t < kNumSparse; ++t) sparse.push_back(uint32_t(rng() % config.hashing.rows[t]));
    }
  }
  DataView view() const { return DataView{kRows, labels.data(), features.data(), sparse.data()}; }
};

}  // namespace shadowsync
