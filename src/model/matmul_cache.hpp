// Row-major C = op(A) op(B) through oneDNN matmul primitives created once per shape and thread
// and reused (every BF16 GEMM; fp32 GEMMs run on dnnl_sgemm, docs/results.md).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace shadowsync {

// The dnnl_sgemm contract with alpha = 1 and beta = 0: C (m x n, leading dimension ldc) =
// op(A) (m x k) times op(B) (k x n), op = transpose for 'T' (row-major storage, lda / ldb the
// stored leading dimensions). Primitives and memory objects are cached per thread, keyed by the
// shape, transposes and leading dimensions (at most 256 shapes; then the cache starts over).
// With `bf16`, A and B are rounded to BF16 (per-thread copies, round_to_bf16) and multiplied by
// a BF16 x BF16 -> fp32 primitive (needs a CPU with AVX512_BF16 or AMX: oneDNN fails to create
// it elsewhere). Throws Error when oneDNN fails.
void cached_matmul(char ta, char tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                   float* c, int ldc, bool bf16 = false);

// The same product of operands already in BF16 (the caller converted them, e.g. once per step
// for several GEMMs): C (fp32) = op(A) op(B), same layout contract and cache as above.
void cached_matmul_bf16(char ta, char tb, int m, int n, int k, const uint16_t* a, int lda, const uint16_t* b,
                        int ldb, float* c, int ldc);

// x rounded to BF16 (round to nearest even; x finite): the upper 16 bits of the result.
inline uint16_t round_to_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// out[i] = in[i] rounded to BF16, round to nearest even (inputs are finite: weights and
// activations), for i < count. A loop the compiler vectorizes.
void round_to_bf16(const float* in, size_t count, uint16_t* out);

}  // namespace shadowsync
