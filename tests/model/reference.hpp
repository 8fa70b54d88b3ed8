// Test helpers for the model suite: random batches and a naive double-precision reference of
// the whole DLRM forward pass and loss, written independently of src/model (plain loops, no
// oneDNN), used for value checks and finite-difference gradient checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/model/dense_layout.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync::test {

// An owning batch of random examples; view() gives the DataView.
struct Batch {
  std::vector<float> labels, numeric;
  std::vector<uint32_t> sparse;
  DataView view() const { return DataView{labels.size(), labels.data(), numeric.data(), sparse.data()}; }
};

inline Batch random_batch(size_t rows, const HashingConfig& hashing, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> feature(0.0f, 3.0f);
  Batch b;
  for (size_t r = 0; r < rows; ++r) {
    b.labels.push_back(float(rng() % 2));
    for (int j = 0; j < kNumNumeric; ++j) b.numeric.push_back(feature(rng));
    for (int t = 0; t < kNumSparse; ++t) b.sparse.push_back(uint32_t(rng() % hashing.rows[t]));
  }
  return b;
}

// Parameters in double: dense in the model's layout, tables[t][row * dim + k] (no padding).
struct RefParams {
  std::vector<double> dense;
  std::vector<std::vector<double>> tables;
};

inline RefParams to_ref(const float* dense, size_t dense_floats, const EmbeddingStore& store) {
  RefParams p;
  p.dense.assign(dense, dense + dense_floats);
  for (int t = 0; t < kNumSparse; ++t) {
    std::vector<double> table(store.rows(t) * size_t(store.dim()));
    for (size_t r = 0; r < store.rows(t); ++r) {
      for (int k = 0; k < store.dim(); ++k) table[r * store.dim() + k] = store.row(t, uint32_t(r))[k];
    }
    p.tables.push_back(std::move(table));
  }
  return p;
}

inline std::vector<double> ref_linear(const std::vector<double>& x, const DenseLayout::Layer& L,
                                      const std::vector<double>& dense, bool relu) {
  std::vector<double> y(size_t(L.out));
  for (int o = 0; o < L.out; ++o) {
    double s = dense[L.bias_offset + size_t(o)];
    for (int i = 0; i < L.in; ++i) s += dense[L.weight_offset + size_t(o) * L.in + i] * x[size_t(i)];
    y[size_t(o)] = relu ? std::max(s, 0.0) : s;
  }
  return y;
}

inline double ref_bce(double z, double y) {
  // log(1 + exp(-z)) for y = 1, log(1 + exp(z)) for y = 0, written the direct way.
  const double p = 1.0 / (1.0 + std::exp(-z));
  return -(y * std::log(p) + (1 - y) * std::log(1 - p));
}

// Logit of one example.
inline double ref_logit(const ModelConfig& c, const DenseLayout& layout, const RefParams& p,
                        const float* dense_x, const uint32_t* sparse) {
  std::vector<double> x(dense_x, dense_x + kNumNumeric);
  for (const auto& L : layout.bottom) x = ref_linear(x, L, p.dense, true);
  const int d = c.embedding_dim;
  std::vector<std::vector<double>> v{x};
  for (int t = 0; t < kNumSparse; ++t) {
    v.emplace_back(p.tables[size_t(t)].begin() + long(sparse[t]) * d,
                   p.tables[size_t(t)].begin() + long(sparse[t] + 1) * d);
  }
  std::vector<double> z;
  if (c.interaction == Interaction::Dot) {
    z = x;
    for (size_t i = 1; i < v.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += v[i][size_t(k)] * v[j][size_t(k)];
        z.push_back(s);
      }
    }
  } else {
    for (const auto& vec : v) z.insert(z.end(), vec.begin(), vec.end());
  }
  for (size_t l = 0; l < layout.top.size(); ++l) z = ref_linear(z, layout.top[l], p.dense, l + 1 < layout.top.size());
  return z[0];
}

// Mean BCE loss of the batch.
inline double ref_loss(const ModelConfig& c, const DenseLayout& layout, const RefParams& p, const DataView& b) {
  double sum = 0;
  for (size_t r = 0; r < b.rows; ++r) {
    sum += ref_bce(ref_logit(c, layout, p, b.numeric + r * kNumNumeric, b.sparse + r * kNumSparse), b.labels[r]);
  }
  return sum / double(b.rows);
}

}  // namespace shadowsync::test
