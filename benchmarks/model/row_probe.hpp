// The random-row kernels of the embedding limit probe (row_probe_bench, embedding_limit_bench):
// one core gathering embedding rows and applying a row-wise Adagrad update to them, laid out as
// EmbeddingStore lays out d = 16 rows (16 floats = one 64-byte line per row, the accumulator in
// its own array of one float per row), or as BF16 rows (16 x 2 bytes = 32 bytes per row, the same
// fp32 accumulator). Plain (vectorizable) accesses, no gradient summation: the memory part of the
// step's embedding work, to set its time against. Tested in tests/benchmarks/model/row_probe_test.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace shadowsync::row_probe {

inline constexpr int kDim = 16;  // the kaggle preset's embedding_dim

// BF16 bits of x, rounded to nearest even (NaN stays NaN).
inline uint16_t float_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// A row element as fp32 (Row = float) or BF16 bits (Row = uint16_t).
inline float load(float x) { return x; }
inline float load(uint16_t x) { return bf16_to_float(x); }
inline void store(float& x, float v) { x = v; }
inline void store(uint16_t& x, float v) { x = float_to_bf16(v); }

// One table: rows of `stride` elements (row r at rows + r * stride) and one accumulator per row.
template <typename Row>
struct TableRef {
  Row* rows;
  float* acc;
  size_t stride;
  Row* row(uint32_t r) const { return rows + size_t(r) * stride; }
};

// The row-wise Adagrad of train_step on one row: acc += |g|^2 / d; row -= lr / (sqrt(acc) + eps) g.
struct Adagrad {
  float lr = 0.01f;
  float eps = 1e-8f;
};

template <typename Row>
inline void update_row(Row* p, float* acc, const float* g, Adagrad opt) {
  float sumsq = 0.0f;
  for (int k = 0; k < kDim; ++k) sumsq += g[k] * g[k];
  const float s = *acc + sumsq * (1.0f / float(kDim));
  *acc = s;
  const float step = opt.lr / (std::sqrt(s) + opt.eps);
  for (int k = 0; k < kDim; ++k) store(p[k], load(p[k]) - step * g[k]);
}

// Gathers the rows of `examples` examples (ids: examples x tables, example-major, as DataView's
// sparse) into out (the same order, kDim floats each). ahead > 0: prefetches the rows of example
// e + ahead while example e is copied (train_step's gather uses 2).
template <typename Row>
void gather(const TableRef<Row>* tables, int ntables, const uint32_t* ids, size_t examples, float* out,
            size_t ahead) {
  for (size_t e = 0; e < examples; ++e) {
    if (ahead > 0 && e + ahead < examples) {
      const uint32_t* later = ids + (e + ahead) * size_t(ntables);
      for (int t = 0; t < ntables; ++t) __builtin_prefetch(tables[t].row(later[t]), 0, 3);
    }
    const uint32_t* id = ids + e * size_t(ntables);
    for (int t = 0; t < ntables; ++t) {
      const Row* src = tables[t].row(id[t]);
      float* dst = out + (e * size_t(ntables) + size_t(t)) * kDim;
      for (int k = 0; k < kDim; ++k) dst[k] = load(src[k]);
    }
  }
}

// Updates the row of every access in batch order (example by example, table by table; a row
// drawn twice is updated twice), with gradient grads + i * kDim for access i. ahead > 0:
// prefetches, for writing, the row and accumulator of access i + ahead.
template <typename Row>
void update_batch(const TableRef<Row>* tables, int ntables, const uint32_t* ids, size_t examples,
                  const float* grads, size_t ahead, Adagrad opt) {
  const size_t n = examples * size_t(ntables);
  for (size_t i = 0; i < n; ++i) {
    if (ahead > 0 && i + ahead < n) {
      const size_t j = i + ahead;
      const TableRef<Row>& tj = tables[j % size_t(ntables)];
      __builtin_prefetch(tj.row(ids[j]), 1, 3);
      __builtin_prefetch(tj.acc + ids[j], 1, 3);
    }
    const TableRef<Row>& t = tables[i % size_t(ntables)];
    update_row(t.row(ids[i]), t.acc + ids[i], grads + i * kDim, opt);
  }
}

// Each table's distinct rows of a batch, sorted: table t's are rows[begin[t] .. begin[t + 1]).
struct SortedRows {
  std::vector<uint32_t> rows;
  std::vector<size_t> begin;
};

inline SortedRows sorted_unique(const uint32_t* ids, size_t examples, int ntables) {
  SortedRows s;
  s.begin.push_back(0);
  std::vector<uint32_t> col(examples);
  for (int t = 0; t < ntables; ++t) {
    for (size_t e = 0; e < examples; ++e) col[e] = ids[e * size_t(ntables) + size_t(t)];
    std::sort(col.begin(), col.end());
    const auto end = std::unique(col.begin(), col.end());
    s.rows.insert(s.rows.end(), col.begin(), end);
    s.begin.push_back(s.rows.size());
  }
  return s;
}

// Updates each distinct row once, table by table in row order (train_step's order), with
// gradient grads + i * kDim for the i-th row of s.rows. ahead > 0: prefetches for writing, as
// train_step does, the next table's rows and accumulators before a table's updates (table 0's
// before its own), and within a table the row and accumulator `ahead` rows later.
template <typename Row>
void update_sorted(const TableRef<Row>* tables, int ntables, const SortedRows& s, const float* grads, size_t ahead,
                   Adagrad opt) {
  auto prefetch_table = [&](int t) {
    for (size_t i = s.begin[size_t(t)]; i < s.begin[size_t(t) + 1]; ++i) {
      __builtin_prefetch(tables[t].row(s.rows[i]), 1, 3);
      __builtin_prefetch(tables[t].acc + s.rows[i], 1, 3);
    }
  };
  if (ahead > 0 && ntables > 0) prefetch_table(0);
  for (int t = 0; t < ntables; ++t) {
    if (ahead > 0 && t + 1 < ntables) prefetch_table(t + 1);
    const TableRef<Row>& tab = tables[t];
    const size_t e = s.begin[size_t(t) + 1];
    for (size_t i = s.begin[size_t(t)]; i < e; ++i) {
      if (ahead > 0 && i + ahead < e) {
        __builtin_prefetch(tab.row(s.rows[i + ahead]), 1, 3);
        __builtin_prefetch(tab.acc + s.rows[i + ahead], 1, 3);
      }
      update_row(tab.row(s.rows[i]), tab.acc + s.rows[i], grads + i * kDim, opt);
    }
  }
}

}  // namespace shadowsync::row_probe
