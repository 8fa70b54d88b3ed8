// Test helpers for the model suite: random batches of any schema (numeric, one-hot and
// multi-hot features) and a naive double-precision reference of the whole DLRM forward pass and
// loss, written independently of src/model (plain loops, no oneDNN), used for value checks and
// finite-difference gradient checks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/model/dense_layout.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync::test {

// An owning batch of examples; view() gives the DataView. Multi-hot lists live in `lists`
// (row-major: row i feature m at i * M + m); pack() turns them into bag_offsets / bag_ids.
struct Batch {
  FeatureWidths widths;
  std::vector<float> labels, numeric;
  std::vector<uint32_t> sparse;
  std::vector<std::vector<uint32_t>> lists;
  std::vector<uint64_t> bag_offsets;
  std::vector<uint32_t> bag_ids;

  void pack() {
    bag_offsets.assign(1, 0);
    bag_ids.clear();
    for (const auto& list : lists) {
      bag_ids.insert(bag_ids.end(), list.begin(), list.end());
      bag_offsets.push_back(bag_ids.size());
    }
  }
  std::vector<uint32_t>& list(size_t row, int m) { return lists[row * size_t(widths.multi_hot) + size_t(m)]; }
  DataView view() const {
    DataView v{labels.size(), labels.data(), numeric.data(), sparse.data()};
    v.numeric_width = widths.numeric;
    v.sparse_width = widths.sparse;
    v.multi_hot = widths.multi_hot;
    if (widths.multi_hot > 0) {
      v.bag_offsets = bag_offsets.data();
      v.bag_ids = bag_ids.data();
    }
    return v;
  }
};

// Random examples of `schema`: per row the label, the numeric features, the one-hot rows, then
// each multi-hot list (0..max_list ids in 1..rows-1). For Criteo's schema the same values as
// always for a seed.
inline Batch random_batch(size_t rows, const FeatureSchema& schema, const HashingConfig& hashing, uint64_t seed,
                          int max_list = 4) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> feature(0.0f, 3.0f);
  Batch b;
  b.widths = FeatureWidths{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
  for (size_t r = 0; r < rows; ++r) {
    b.labels.push_back(float(rng() % 2));
    for (int j = 0; j < b.widths.numeric; ++j) b.numeric.push_back(feature(rng));
    for (int t = 0; t < b.widths.sparse; ++t) b.sparse.push_back(uint32_t(rng() % hashing.rows[size_t(t)]));
    for (int m = 0; m < b.widths.multi_hot; ++m) {
      const uint32_t table_rows = hashing.rows[size_t(b.widths.sparse + m)];
      std::vector<uint32_t> list(rng() % uint64_t(max_list + 1));
      for (uint32_t& id : list) id = uint32_t(1 + rng() % (table_rows - 1));
      b.lists.push_back(std::move(list));
    }
  }
  b.pack();
  return b;
}

inline Batch random_batch(size_t rows, const HashingConfig& hashing, uint64_t seed) {
  return random_batch(rows, FeatureSchema::criteo(), hashing, seed);
}

// A non-Criteo schema for the tests: a label, 3 numeric columns (log1p, identity, log1p), an
// ignored column, 2 categorical (one-hot) columns and 2 multi-hot columns (sum, mean pooling),
// interleaved. numeric / one_hot / multi_hot false: that kind left out.
inline FeatureSchema mixed_schema(bool numeric = true, bool one_hot = true, bool multi_hot = true) {
  FeatureSchema s;
  s.hex_ids = false;
  s.columns.push_back(SchemaColumn{.name = "click", .kind = ColumnKind::Label});
  if (one_hot) s.columns.push_back(SchemaColumn{.name = "site", .kind = ColumnKind::Categorical});
  if (numeric) s.columns.push_back(SchemaColumn{.name = "age", .kind = ColumnKind::Numeric});
  if (multi_hot) {
    s.columns.push_back(SchemaColumn{.name = "tags", .kind = ColumnKind::MultiHot, .separator = '|',
                                     .max_length = 8, .pooling = Pooling::Sum});
  }
  s.columns.push_back(SchemaColumn{.name = "id", .kind = ColumnKind::Ignored});
  if (numeric) {
    s.columns.push_back(SchemaColumn{.name = "price", .kind = ColumnKind::Numeric,
                                     .transform = NumericTransformKind::Identity});
    s.columns.push_back(SchemaColumn{.name = "views", .kind = ColumnKind::Numeric});
  }
  if (one_hot) s.columns.push_back(SchemaColumn{.name = "device", .kind = ColumnKind::Categorical});
  if (multi_hot) {
    s.columns.push_back(SchemaColumn{.name = "history", .kind = ColumnKind::MultiHot, .separator = ',',
                                     .max_length = 8, .pooling = Pooling::Mean});
  }
  s.validate("test schema");
  return s;
}

// Parameters in double: dense in the model's layout, tables[t][row * dim + k] (no padding).
struct RefParams {
  std::vector<double> dense;
  std::vector<std::vector<double>> tables;
};

inline RefParams to_ref(const float* dense, size_t dense_floats, const EmbeddingStore& store) {
  RefParams p;
  p.dense.assign(dense, dense + dense_floats);
  for (int t = 0; t < store.tables(); ++t) {
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

// Logit of example r of `b` (any schema: the model's): the bottom MLP's output when the schema has
// numeric features, each one-hot table's row, each multi-hot list's rows summed (or averaged;
// an empty list: zeros); then the interaction and the top MLP.
inline double ref_logit(const ModelConfig& c, const DenseLayout& layout, const RefParams& p, const DataView& b,
                        size_t r) {
  const int d = c.embedding_dim;
  const bool bottom = !layout.bottom.empty();
  std::vector<std::vector<double>> v;
  std::vector<double> x(b.numeric + r * size_t(b.numeric_width), b.numeric + (r + 1) * size_t(b.numeric_width));
  if (bottom) {
    for (const auto& L : layout.bottom) x = ref_linear(x, L, p.dense, true);
    v.push_back(x);
  }
  for (int t = 0; t < b.sparse_width; ++t) {
    const uint32_t row = b.sparse[r * size_t(b.sparse_width) + size_t(t)];
    v.emplace_back(p.tables[size_t(t)].begin() + long(row) * d, p.tables[size_t(t)].begin() + long(row + 1) * d);
  }
  for (int m = 0; m < b.multi_hot; ++m) {
    const auto& table = p.tables[size_t(b.sparse_width + m)];
    std::vector<double> pooled(size_t(d), 0.0);
    const uint64_t begin = b.bag_begin(r, m), end = b.bag_end(r, m);
    for (uint64_t i = begin; i < end; ++i) {
      for (int k = 0; k < d; ++k) pooled[size_t(k)] += table[size_t(b.bag_ids[i]) * size_t(d) + size_t(k)];
    }
    if (c.schema.pooling(m) == Pooling::Mean && end > begin) {
      for (double& e : pooled) e /= double(end - begin);
    }
    v.push_back(std::move(pooled));
  }
  std::vector<double> z;
  if (c.interaction == Interaction::Dot) {
    if (bottom) z = x;
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
  if (c.interaction == Interaction::Dcn) {  // x_{l+1} = x0 * (W x_l + b) + x_l, W = U V when low rank
    const std::vector<double> x0 = z;
    const size_t D = x0.size();
    for (const auto& C : layout.cross) {
      std::vector<double> h;  // V x_l (low rank)
      for (int k = 0; k < C.rank; ++k) {
        double s = 0;
        for (size_t i = 0; i < D; ++i) s += p.dense[C.v_offset + size_t(k) * D + i] * z[i];
        h.push_back(s);
      }
      std::vector<double> next(D);
      for (size_t o = 0; o < D; ++o) {
        double s = p.dense[C.bias_offset + o];
        if (C.rank == 0) {
          for (size_t i = 0; i < D; ++i) s += p.dense[C.weight_offset + o * D + i] * z[i];
        } else {
          for (int k = 0; k < C.rank; ++k) s += p.dense[C.u_offset + o * size_t(C.rank) + size_t(k)] * h[size_t(k)];
        }
        next[o] = x0[o] * s + z[o];
      }
      z = std::move(next);
    }
  }
  for (size_t l = 0; l < layout.top.size(); ++l) z = ref_linear(z, layout.top[l], p.dense, l + 1 < layout.top.size());
  return z[0];
}

// Logit of one example of Criteo's layout.
inline double ref_logit(const ModelConfig& c, const DenseLayout& layout, const RefParams& p,
                        const float* dense_x, const uint32_t* sparse) {
  const float label = 0.0f;
  const DataView one{1, &label, dense_x, sparse};
  return ref_logit(c, layout, p, one, 0);
}

// Mean BCE loss of the batch.
inline double ref_loss(const ModelConfig& c, const DenseLayout& layout, const RefParams& p, const DataView& b) {
  double sum = 0;
  for (size_t r = 0; r < b.rows; ++r) sum += ref_bce(ref_logit(c, layout, p, b, r), b.labels[r]);
  return sum / double(b.rows);
}

}  // namespace shadowsync::test
