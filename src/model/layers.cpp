// Kernels of the model: fully connected layers on single-threaded dnnl_sgemm (row-major), and
// vectorizable C++ for bias + ReLU, the dot interaction, BCE and the optimizers.
#include "layers.hpp"

#include <oneapi/dnnl/dnnl.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "model/matmul_cache.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::layers {
namespace {

void sgemm(char ta, char tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc, bool bf16) {
  if (beta == 0.0f && bf16) {
    cached_matmul(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, bf16);
    return;
  }
  const dnnl_status_t status = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    throw Error("model: dnnl_sgemm(" + std::to_string(m) + "x" + std::to_string(n) + "x" +
                std::to_string(k) + ") failed with status " + std::to_string(int(status)));
  }
}

// Pad of the 27 interaction vectors to a vector-friendly count.
constexpr int kPadded = 32;

}  // namespace

// y += b, then ReLU if relu (rows x out, leading dimension ldy). b is in the replica: plain reads
// racing with Hogwild updates, the same benign race as the GEMM's reads of w
// (model_workspace.hpp; suppressed by name in tests/tsan.supp).
void add_bias(int rows, int out, const float* b, bool relu, float* y, int ldy) {
  for (int r = 0; r < rows; ++r) {
    float* __restrict yr = y + size_t(r) * ldy;
    if (relu) {
      for (int c = 0; c < out; ++c) yr[c] = std::max(yr[c] + b[c], 0.0f);
    } else {
      for (int c = 0; c < out; ++c) yr[c] += b[c];
    }
  }
}

// db = column sums of dy (rows x out, leading dimension lddy).
void column_sums(int rows, int out, const float* dy, int lddy, float* db) {
  std::fill(db, db + out, 0.0f);
  for (int r = 0; r < rows; ++r) {
    const float* __restrict dyr = dy + size_t(r) * lddy;
    for (int c = 0; c < out; ++c) db[c] += dyr[c];
  }
}

void linear_forward(int rows, int in, int out, const float* x, int ldx, const float* w,
                    const float* b, bool relu, float* y, int ldy, bool bf16) {
  sgemm('N', 'T', rows, out, in, x, ldx, w, in, 0.0f, y, ldy, bf16);
  add_bias(rows, out, b, relu, y, ldy);
}

void linear_forward_gemm(int rows, int in, int out, const float* x, int ldx, const float* w, float* y, int ldy) {
  sgemm('N', 'T', rows, out, in, x, ldx, w, in, 0.0f, y, ldy, false);
}

void linear_backward_data(int rows, int in, int out, const float* dy, int lddy, const float* w,
                          float* dx, int lddx, bool bf16) {
  sgemm('N', 'N', rows, in, out, dy, lddy, w, in, 0.0f, dx, lddx, bf16);
}

void linear_backward_weights(int rows, int in, int out, const float* x, int ldx, const float* dy,
                             int lddy, float* dw, float* db, bool bf16) {
  sgemm('T', 'N', out, in, rows, dy, lddy, x, ldx, 0.0f, dw, in, bf16);
  column_sums(rows, out, dy, lddy, db);
}

void linear_backward_weights_gemm(int rows, int in, int out, const float* x, int ldx, const float* dy, int lddy,
                                  float* dw) {
  sgemm('T', 'N', out, in, rows, dy, lddy, x, ldx, 0.0f, dw, in, false);
}

void linear_forward_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* w16,
                         const float* b, bool relu, float* y, int ldy, uint16_t* y16) {
  cached_matmul_bf16('N', 'T', rows, out, in, x16, ldx16, w16, in, y, ldy);
  if (y16 == nullptr) {
    add_bias(rows, out, b, relu, y, ldy);
    return;
  }
  for (int r = 0; r < rows; ++r) {  // add_bias, and each result's BF16 copy while in a register
    float* __restrict yr = y + size_t(r) * ldy;
    uint16_t* __restrict y16r = y16 + size_t(r) * out;
    for (int c = 0; c < out; ++c) {
      const float v = relu ? std::max(yr[c] + b[c], 0.0f) : yr[c] + b[c];
      yr[c] = v;
      y16r[c] = round_to_bf16(v);
    }
  }
}

void linear_backward_data_bf16(int rows, int in, int out, const uint16_t* dy16, int lddy16, const uint16_t* w16,
                               float* dx, int lddx) {
  cached_matmul_bf16('N', 'N', rows, in, out, dy16, lddy16, w16, in, dx, lddx);
}

void linear_backward_weights_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* dy16,
                                  int lddy16, const float* dy, int lddy, float* dw, float* db) {
  cached_matmul_bf16('T', 'N', out, in, rows, dy16, lddy16, x16, ldx16, dw, in);
  if (db != nullptr) column_sums(rows, out, dy, lddy, db);
}

void linear_forward_gemm_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* w16,
                              float* y, int ldy) {
  cached_matmul_bf16('N', 'T', rows, out, in, x16, ldx16, w16, in, y, ldy);
}

void linear_backward_weights_gemm_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16,
                                       const uint16_t* dy16, int lddy16, float* dw) {
  cached_matmul_bf16('T', 'N', out, in, rows, dy16, lddy16, x16, ldx16, dw, in);
}

void cross_forward(size_t n, const float* x0, const float* p, const float* x, float* x_next) {
  const float* __restrict a = x0;
  const float* __restrict b = p;
  const float* __restrict c = x;
  float* __restrict y = x_next;
  for (size_t i = 0; i < n; ++i) y[i] = a[i] * b[i] + c[i];
}

void cross_backward(size_t n, const float* g, const float* x0, const float* p, float* dp, float* dx0,
                    bool accumulate) {
  const float* __restrict gi = g;
  const float* __restrict a = x0;
  const float* __restrict b = p;
  float* __restrict dpi = dp;
  float* __restrict dxi = dx0;
  for (size_t i = 0; i < n; ++i) dpi[i] = gi[i] * a[i];
  if (accumulate) {
    for (size_t i = 0; i < n; ++i) dxi[i] += gi[i] * b[i];
  } else {
    for (size_t i = 0; i < n; ++i) dxi[i] = gi[i] * b[i];
  }
}

void add_to(size_t n, float* a, const float* b) {
  float* __restrict x = a;
  const float* __restrict y = b;
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void weights_to_bf16(int out, int in, const float* w, uint16_t* w16) {
  round_to_bf16(w, size_t(out) * size_t(in), w16);
}

void to_bf16(int rows, int cols, const float* in, int ld, uint16_t* out) {
  if (ld == cols) {
    round_to_bf16(in, size_t(rows) * size_t(cols), out);
    return;
  }
  for (int r = 0; r < rows; ++r) round_to_bf16(in + size_t(r) * ld, size_t(cols), out + size_t(r) * cols);
}

// With db, each row's values are also added to db's columns, in row order as column_sums adds
// them. (GCC takes the db test out of the inner loop: -funswitch-loops at -O3.)
void relu_backward(int rows, int cols, const float* y, int ldy, float* dy, int lddy, uint16_t* dy16, float* db) {
  if (db != nullptr) std::fill(db, db + cols, 0.0f);
  float* __restrict sums = db;
  for (int r = 0; r < rows; ++r) {
    const float* __restrict yr = y + size_t(r) * ldy;
    float* __restrict dyr = dy + size_t(r) * lddy;
    uint16_t* __restrict dy16r = dy16 + size_t(r) * cols;
    for (int c = 0; c < cols; ++c) {
      const float v = yr[c] > 0.0f ? dyr[c] : 0.0f;
      dyr[c] = v;
      dy16r[c] = round_to_bf16(v);
      if (sums != nullptr) sums[c] += v;
    }
  }
}

void relu_backward(int rows, int cols, const float* y, int ldy, float* dy, int lddy, float* db) {
  if (db != nullptr) std::fill(db, db + cols, 0.0f);
  float* __restrict sums = db;
  for (int r = 0; r < rows; ++r) {
    const float* __restrict yr = y + size_t(r) * ldy;
    float* __restrict dyr = dy + size_t(r) * lddy;
    for (int c = 0; c < cols; ++c) {
      const float v = yr[c] > 0.0f ? dyr[c] : 0.0f;
      dyr[c] = v;
      if (sums != nullptr) sums[c] += v;
    }
  }
}

namespace {

// Kd > 0: the embedding width as a compile-time constant (fully unrolled, vectorized inner
// loops); Kd == 0: any width at run time.
template <int Kd>
void dot_forward(int rows, int d_runtime, const float* t, float* z) {
  const int d = Kd > 0 ? Kd : d_runtime;
  const int width = d + kPairs;
  // tt: the example's 27 vectors transposed (d x 32, zero padded) so that the dots of vector i
  // with all others vectorize over the other index without reassociating any sum.
  float tt_storage[kPadded * 64];
  float* tt = tt_storage;
  std::vector<float> heap;
  if (d > 64) {
    heap.assign(size_t(kPadded) * d, 0.0f);
    tt = heap.data();
  }
  for (int r = 0; r < rows; ++r) {
    const float* __restrict tr = t + size_t(r) * kVectors * d;
    float* __restrict zr = z + size_t(r) * width;
    for (int k = 0; k < d; ++k) {
      for (int j = 0; j < kVectors; ++j) tt[k * kPadded + j] = tr[j * d + k];
      for (int j = kVectors; j < kPadded; ++j) tt[k * kPadded + j] = 0.0f;
    }
    std::copy(tr, tr + d, zr);
    float* __restrict out = zr + d;
    for (int i = 1; i < kVectors; ++i) {
      float acc[kPadded] = {};
      const float* ti = tr + i * d;
      for (int k = 0; k < d; ++k) {
        const float a = ti[k];
        const float* __restrict col = tt + k * kPadded;
#pragma omp simd
        for (int j = 0; j < kPadded; ++j) acc[j] += a * col[j];
      }
      for (int j = 0; j < i; ++j) *out++ = acc[j];
    }
  }
}

template <int Kd>
void dot_backward(int rows, int d_runtime, const float* t, const float* dz, float* dt) {
  const int d = Kd > 0 ? Kd : d_runtime;
  const int width = d + kPairs;
  float g[kVectors * kVectors];  // symmetric pair gradients, zero diagonal
  for (int i = 0; i < kVectors; ++i) g[i * kVectors + i] = 0.0f;
  for (int r = 0; r < rows; ++r) {
    const float* __restrict tr = t + size_t(r) * kVectors * d;
    const float* __restrict dzr = dz + size_t(r) * width;
    float* __restrict dtr = dt + size_t(r) * kVectors * d;
    const float* pair = dzr + d;
    for (int i = 1; i < kVectors; ++i) {
      for (int j = 0; j < i; ++j) {
        g[i * kVectors + j] = *pair;
        g[j * kVectors + i] = *pair;
        ++pair;
      }
    }
    // dt[i] = sum_j g[i][j] t[j] (+ dz[0..d) for i = 0), vectorized over the d components.
    for (int i = 0; i < kVectors; ++i) {
      float* __restrict out = dtr + i * d;
      if (i == 0) {
        std::copy(dzr, dzr + d, out);
      } else {
        std::fill(out, out + d, 0.0f);
      }
      const float* gi = g + i * kVectors;
      for (int j = 0; j < kVectors; ++j) {
        const float gij = gi[j];
        const float* __restrict tj = tr + j * d;
        // omp simd: without it GCC unrolls this into scalar FMAs (it cannot prove out and tj
        // apart); they never overlap (out is in dt, tj in t).
#pragma omp simd
        for (int k = 0; k < d; ++k) out[k] += gij * tj[k];
      }
    }
  }
}

#if defined(__AVX512F__)
// d = 16 with AVX-512: one embedding vector is one zmm register. The dots are small GEMMs
// with explicit register blocking (FMAs on broadcast operands from L1, masked stores of each
// lower-triangle row), several times faster than the generic loops above.
void dot_forward16_avx512(int rows, const float* t, float* z) {
  constexpr int d = 16, width = d + kPairs;
  // tt: the example's 27 vectors transposed (16 x 32), lanes 27..31 zero.
  alignas(64) float tt[d * kPadded] = {};
  for (int r = 0; r < rows; ++r) {
    const float* __restrict tr = t + size_t(r) * kVectors * d;
    float* __restrict zr = z + size_t(r) * width;
    for (int j = 0; j < kVectors; ++j) {
      for (int k = 0; k < d; ++k) tt[k * kPadded + j] = tr[j * d + k];
    }
    _mm512_storeu_ps(zr, _mm512_loadu_ps(tr));
    float* out = zr + d;  // row i of the lower triangle starts at out + i (i - 1) / 2
    // Rows 1..16 need lanes 0..15 only: two blocks of 8 rows.
    for (int i0 = 1; i0 <= 9; i0 += 8) {
      __m512 acc[8];
      for (int b = 0; b < 8; ++b) acc[b] = _mm512_setzero_ps();
      for (int k = 0; k < d; ++k) {
        const __m512 col = _mm512_load_ps(tt + k * kPadded);
        for (int b = 0; b < 8; ++b) {
          acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(tr[(i0 + b) * d + k]), col, acc[b]);
        }
      }
      for (int b = 0; b < 8; ++b) {
        const int i = i0 + b;
        _mm512_mask_storeu_ps(out + i * (i - 1) / 2, __mmask16((1u << i) - 1u), acc[b]);
      }
    }
    // Rows 17..26 need lanes 0..31.
    constexpr int kHigh = kVectors - 17;
    __m512 lo[kHigh], hi[kHigh];
    for (int b = 0; b < kHigh; ++b) lo[b] = hi[b] = _mm512_setzero_ps();
    for (int k = 0; k < d; ++k) {
      const __m512 col_lo = _mm512_load_ps(tt + k * kPadded);
      const __m512 col_hi = _mm512_load_ps(tt + k * kPadded + 16);
      for (int b = 0; b < kHigh; ++b) {
        const __m512 a = _mm512_set1_ps(tr[(17 + b) * d + k]);
        lo[b] = _mm512_fmadd_ps(a, col_lo, lo[b]);
        hi[b] = _mm512_fmadd_ps(a, col_hi, hi[b]);
      }
    }
    for (int b = 0; b < kHigh; ++b) {
      const int i = 17 + b;
      float* row = out + i * (i - 1) / 2;
      _mm512_storeu_ps(row, lo[b]);
      _mm512_mask_storeu_ps(row + 16, __mmask16((1u << (i - 16)) - 1u), hi[b]);
    }
  }
}

// dt[j] = sum_{i != j} g(i, j) t[i] (+ dz[0..16) for j = 0), g(i, j) = the dz entry of the
// pair {i, j}, read in place from the lower triangle (row i starts at pair + i (i - 1) / 2), in
// increasing i. Three blocks of 9 outputs in registers; the i loop is split so that only the 9
// i inside the block need to choose between g(i, j) = L[j][i] (i < j) and L[i][j] (i > j).
template <int J0>
inline void dot_backward16_block(const float* __restrict tr, const float* __restrict pair,
                                 const float* __restrict dz0, float* __restrict dtr) {
  constexpr int d = 16, kBlock = 9;
  __m512 acc[kBlock];
  for (int b = 0; b < kBlock; ++b) acc[b] = _mm512_setzero_ps();
  if (J0 == 0) acc[0] = _mm512_loadu_ps(dz0);
  const float* row[kBlock];  // row[b] = L[J0 + b][.]
  for (int b = 0; b < kBlock; ++b) row[b] = pair + (J0 + b) * (J0 + b - 1) / 2;
  for (int i = 0; i < J0; ++i) {  // i < j for the whole block
    const __m512 ti = _mm512_loadu_ps(tr + i * d);
    for (int b = 0; b < kBlock; ++b) acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(row[b][i]), ti, acc[b]);
  }
  for (int i = J0; i < J0 + kBlock; ++i) {  // inside the block
    const __m512 ti = _mm512_loadu_ps(tr + i * d);
    const float* li = pair + i * (i - 1) / 2;
    for (int b = 0; b < kBlock; ++b) {
      const int j = J0 + b;
      if (i == j) continue;
      const float g = i > j ? li[j] : row[b][i];
      acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(g), ti, acc[b]);
    }
  }
  for (int i = J0 + kBlock; i < kVectors; ++i) {  // i > j for the whole block
    const __m512 ti = _mm512_loadu_ps(tr + i * d);
    const float* li = pair + i * (i - 1) / 2 + J0;
    for (int b = 0; b < kBlock; ++b) acc[b] = _mm512_fmadd_ps(_mm512_set1_ps(li[b]), ti, acc[b]);
  }
  for (int b = 0; b < kBlock; ++b) _mm512_storeu_ps(dtr + (J0 + b) * d, acc[b]);
}

void dot_backward16_avx512(int rows, const float* t, const float* dz, float* dt) {
  constexpr int d = 16, width = d + kPairs;
  for (int r = 0; r < rows; ++r) {
    const float* tr = t + size_t(r) * kVectors * d;
    const float* dzr = dz + size_t(r) * width;
    float* dtr = dt + size_t(r) * kVectors * d;
    dot_backward16_block<0>(tr, dzr + d, dzr, dtr);
    dot_backward16_block<9>(tr, dzr + d, dzr, dtr);
    dot_backward16_block<18>(tr, dzr + d, dzr, dtr);
  }
}
#endif

}  // namespace

void interaction_dot_forward(int rows, int d, const float* t, float* z) {
  switch (d) {
    case 4: return dot_forward<4>(rows, d, t, z);
    case 8: return dot_forward<8>(rows, d, t, z);
#if defined(__AVX512F__)
    case 16: return dot_forward16_avx512(rows, t, z);
#else
    case 16: return dot_forward<16>(rows, d, t, z);
#endif
    case 32: return dot_forward<32>(rows, d, t, z);
    default: return dot_forward<0>(rows, d, t, z);
  }
}

void interaction_dot_backward(int rows, int d, const float* t, const float* dz, float* dt) {
  switch (d) {
    case 4: return dot_backward<4>(rows, d, t, dz, dt);
    case 8: return dot_backward<8>(rows, d, t, dz, dt);
#if defined(__AVX512F__)
    case 16: return dot_backward16_avx512(rows, t, dz, dt);
#else
    case 16: return dot_backward<16>(rows, d, t, dz, dt);
#endif
    case 32: return dot_backward<32>(rows, d, t, dz, dt);
    default: return dot_backward<0>(rows, d, t, dz, dt);
  }
}

void interaction_dot_forward(int rows, int d, int vectors, bool with_dense, const float* t, float* z) {
  if (vectors == kVectors && with_dense) return interaction_dot_forward(rows, d, t, z);
  const int head = with_dense ? d : 0;
  const int width = head + vectors * (vectors - 1) / 2;
  for (int r = 0; r < rows; ++r) {
    const float* tr = t + size_t(r) * size_t(vectors) * size_t(d);
    float* zr = z + size_t(r) * size_t(width);
    std::copy(tr, tr + head, zr);
    float* out = zr + head;
    for (int i = 1; i < vectors; ++i) {
      const float* ti = tr + size_t(i) * size_t(d);
      for (int j = 0; j < i; ++j) {
        const float* tj = tr + size_t(j) * size_t(d);
        float acc = 0.0f;
        for (int k = 0; k < d; ++k) acc += ti[k] * tj[k];
        *out++ = acc;
      }
    }
  }
}

void interaction_dot_backward(int rows, int d, int vectors, bool with_dense, const float* t, const float* dz,
                              float* dt) {
  if (vectors == kVectors && with_dense) return interaction_dot_backward(rows, d, t, dz, dt);
  const int head = with_dense ? d : 0;
  const int width = head + vectors * (vectors - 1) / 2;
  const size_t vd = size_t(vectors) * size_t(d);
  for (int r = 0; r < rows; ++r) {
    const float* tr = t + size_t(r) * vd;
    const float* dzr = dz + size_t(r) * size_t(width);
    float* dtr = dt + size_t(r) * vd;
    std::fill(dtr, dtr + vd, 0.0f);
    std::copy(dzr, dzr + head, dtr);
    const float* pair = dzr + head;
    for (int i = 1; i < vectors; ++i) {
      for (int j = 0; j < i; ++j) {
        const float g = *pair++;
        float* dti = dtr + size_t(i) * size_t(d);
        float* dtj = dtr + size_t(j) * size_t(d);
        const float* ti = tr + size_t(i) * size_t(d);
        const float* tj = tr + size_t(j) * size_t(d);
        for (int k = 0; k < d; ++k) {
          dti[k] += g * tj[k];
          dtj[k] += g * ti[k];
        }
      }
    }
  }
}

float bce_loss(float z, float y) {
  return std::max(z, 0.0f) - z * y + std::log1p(std::exp(-std::fabs(z)));
}

double bce_forward_backward(int rows, const float* z, const float* y, float scale, float* dz) {
  double sum = 0.0;
  for (int i = 0; i < rows; ++i) {
    sum += bce_loss(z[i], y[i]);
    // Stable sigmoid: exp of a non-positive argument only.
    const float e = std::exp(-std::fabs(z[i]));
    const float p = z[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    dz[i] = (p - y[i]) * scale;
  }
  return sum;
}

void adagrad_update(size_t n, float* __restrict w, float* __restrict s, const float* __restrict g,
                    float lr, float eps) {
  // Benign Hogwild race (documented in model_workspace.hpp): plain loads/stores of aligned floats.
  size_t i = 0;
#if defined(__AVX512F__)
  // Explicit AVX-512: GCC keeps std::sqrt scalar without -fno-math-errno (errno for s < 0, which
  // cannot happen here: s is a sum of squares). Same IEEE sqrt as the scalar loop; the division
  // is a Newton-refined reciprocal (equal to the scalar loop's result within float rounding).
  const __m512 vlr = _mm512_set1_ps(lr), veps = _mm512_set1_ps(eps), vtwo = _mm512_set1_ps(2.0f);
  const __m512 vinf = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  // maskz with all lanes: _mm512_sqrt_ps and _mm512_rcp14_ps trip a GCC 12
  // -Wmaybe-uninitialized false positive.
  const __mmask16 kAll = 0xFFFF;
  for (; i + 16 <= n; i += 16) {
    const __m512 gi = _mm512_loadu_ps(g + i);
    const __m512 si = _mm512_add_ps(_mm512_loadu_ps(s + i), _mm512_mul_ps(gi, gi));
    _mm512_storeu_ps(s + i, si);
    // 1 / (sqrt(s) + eps) by rcp14 and one Newton step (relative error ~2^-23, i.e. a float
    // rounding of the exact quotient; x >= eps > 0, finite): the division's latency and
    // throughput dominated this loop for L2-resident layers.
    const __m512 x = _mm512_add_ps(_mm512_maskz_sqrt_ps(kAll, si), veps);
    __m512 inv = _mm512_maskz_rcp14_ps(kAll, x);
    inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(x, inv, vtwo));
    // s = +inf (g^2 overflowed): the Newton step gives 0 * inf = NaN; the quotient is 0.
    inv = _mm512_mask_mov_ps(inv, _mm512_cmp_ps_mask(x, vinf, _CMP_EQ_OQ), _mm512_setzero_ps());
    _mm512_storeu_ps(w + i, _mm512_fnmadd_ps(_mm512_mul_ps(vlr, gi), inv, _mm512_loadu_ps(w + i)));
  }
#endif
  for (; i < n; ++i) {
    const float gi = g[i];
    const float si = s[i] + gi * gi;
    s[i] = si;
    w[i] -= lr * gi / (std::sqrt(si) + eps);
  }
}

void sgd_update(size_t n, float* __restrict w, const float* __restrict g, float lr) {
  for (size_t i = 0; i < n; ++i) w[i] -= lr * g[i];
}

}  // namespace shadowsync::layers
