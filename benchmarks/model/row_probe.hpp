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
#include <immintrin.h>
#include <vector>

namespace shadowsync::row_probe {

inline constexpr int kDim = 16;  // the kaggle preset's embedding_dim

// BF16 bits of x, rounded to nearest even (NaN stays NaN). Branch-free, so that a row's 16
// conversions vectorize.
inline uint16_t float_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x40u;
  return uint16_t((u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
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

// A whole row (kDim elements) to fp32 and back: plain loops for fp32 rows; for BF16 rows the same
// conversions spelled with AVX-512 intrinsics where the compiler targets AVX-512 (GCC leaves the
// loops scalar once they are inlined into the probe's loops), bit-identical to the scalar ones.
inline void load_row(const float* p, float* x) {
  for (int k = 0; k < kDim; ++k) x[k] = p[k];
}
inline void store_row(float* p, const float* x) {
  for (int k = 0; k < kDim; ++k) p[k] = x[k];
}
#if defined(__AVX512F__) && defined(__AVX512BW__)
// (The zero-masked forms, all lanes on: GCC 12 warns about the unmasked ones' undefined operand.)
inline constexpr __mmask16 kAll = 0xFFFF;
inline void load_row(const uint16_t* p, float* x) {
  static_assert(kDim == 16);
  const __m512i w = _mm512_maskz_cvtepu16_epi32(kAll, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  _mm512_storeu_ps(x, _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAll, w, 16)));
}
inline void store_row(uint16_t* p, const float* x) {
  const __m512i u = _mm512_castps_si512(_mm512_loadu_ps(x));
  const __m512i high = _mm512_maskz_srli_epi32(kAll, u, 16);
  const __m512i bias = _mm512_add_epi32(_mm512_and_si512(high, _mm512_set1_epi32(1)), _mm512_set1_epi32(0x7FFF));
  const __m512i rounded = _mm512_maskz_srli_epi32(kAll, _mm512_add_epi32(u, bias), 16);
  const __mmask16 nan =
      _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
  const __m512i bits = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(high, _mm512_set1_epi32(0x40)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_maskz_cvtepi32_epi16(kAll, bits));
}
#else
inline void load_row(const uint16_t* p, float* x) {
  for (int k = 0; k < kDim; ++k) x[k] = bf16_to_float(p[k]);
}
inline void store_row(uint16_t* p, const float* x) {
  for (int k = 0; k < kDim; ++k) p[k] = float_to_bf16(x[k]);
}
#endif

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

// Sum of g[k]^2 over a row, as a tree of 16 lanes (vectorizes; train_step sums in sequence).
inline float row_sumsq(const float* g) {
  float sq[kDim];
  for (int k = 0; k < kDim; ++k) sq[k] = g[k] * g[k];
  static_assert(kDim == 16);
  for (int k = 0; k < 8; ++k) sq[k] += sq[k + 8];
  for (int k = 0; k < 4; ++k) sq[k] += sq[k + 4];
  return ((sq[0] + sq[2]) + (sq[1] + sq[3]));
}

template <typename Row>
inline void update_row(Row* p, float* acc, const float* g, Adagrad opt) {
  const float s = *acc + row_sumsq(g) * (1.0f / float(kDim));
  *acc = s;
  const float step = opt.lr / (std::sqrt(s) + opt.eps);
  float x[kDim];
  load_row(p, x);
  for (int k = 0; k < kDim; ++k) x[k] -= step * g[k];
  store_row(p, x);
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
      load_row(tables[t].row(id[t]), out + (e * size_t(ntables) + size_t(t)) * kDim);
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

// Each table's distinct rows of a batch, sorted: table t's are rows[begin[t] .. begin[t + 1]);
// example[i]: the first example that drew rows[i].
struct SortedRows {
  std::vector<uint32_t> rows, example;
  std::vector<size_t> begin;
};

inline SortedRows sorted_unique(const uint32_t* ids, size_t examples, int ntables) {
  SortedRows s;
  s.begin.push_back(0);
  std::vector<uint64_t> keys(examples);
  for (int t = 0; t < ntables; ++t) {
    for (size_t e = 0; e < examples; ++e) keys[e] = (uint64_t(ids[e * size_t(ntables) + size_t(t)]) << 32) | e;
    std::sort(keys.begin(), keys.end());
    for (size_t i = 0; i < examples; ++i) {
      if (i > 0 && keys[i] >> 32 == keys[i - 1] >> 32) continue;
      s.rows.push_back(uint32_t(keys[i] >> 32));
      s.example.push_back(uint32_t(keys[i]));
    }
    s.begin.push_back(s.rows.size());
  }
  return s;
}

// Updates each distinct row once, table by table in row order (train_step's order), with the
// gradient of the example that drew it, read as train_step reads its output gradients (grads:
// examples x tables x kDim floats; row i of table t: grads + (s.example[i] * tables + t) * kDim).
// ahead > 0 prefetches for writing:
//   next_table = true:  as train_step, the next table's rows and accumulators before a table's
//                       updates (table 0's before its own), and within a table `ahead` rows later;
//   next_table = false: the row and accumulator `ahead` rows later in s.rows, across tables.
template <typename Row>
void update_sorted(const TableRef<Row>* tables, int ntables, const SortedRows& s, const float* grads, size_t ahead,
                   Adagrad opt, bool next_table = true) {
  auto prefetch = [&](int t, size_t i) {
    __builtin_prefetch(tables[t].row(s.rows[i]), 1, 3);
    __builtin_prefetch(tables[t].acc + s.rows[i], 1, 3);
  };
  auto prefetch_table = [&](int t) {
    for (size_t i = s.begin[size_t(t)]; i < s.begin[size_t(t) + 1]; ++i) prefetch(t, i);
  };
  if (ahead > 0 && next_table && ntables > 0) prefetch_table(0);
  int ahead_table = 0;  // the table of row i + ahead (flat prefetch)
  for (int t = 0; t < ntables; ++t) {
    if (ahead > 0 && next_table && t + 1 < ntables) prefetch_table(t + 1);
    const TableRef<Row>& tab = tables[t];
    const size_t e = s.begin[size_t(t) + 1];
    for (size_t i = s.begin[size_t(t)]; i < e; ++i) {
      if (ahead > 0 && next_table && i + ahead < e) prefetch(t, i + ahead);
      if (ahead > 0 && !next_table && i + ahead < s.rows.size()) {
        while (i + ahead >= s.begin[size_t(ahead_table) + 1]) ++ahead_table;
        prefetch(ahead_table, i + ahead);
      }
      const float* g = grads + (size_t(s.example[i]) * size_t(ntables) + size_t(t)) * kDim;
      update_row(tab.row(s.rows[i]), tab.acc + s.rows[i], g, opt);
    }
  }
}

}  // namespace shadowsync::row_probe
