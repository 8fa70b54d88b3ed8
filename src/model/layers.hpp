// Internal kernels of the model (one job each): fully connected layers on oneDNN GEMMs, the dot
// interaction, binary cross-entropy and the dense optimizers. Not a public header: ModelWorkspace
// and the tests (tests/model) use it. All matrices are row-major with explicit leading
// dimensions (ld*, in floats); weights are (out x in) as in dense_layout.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shadowsync::layers {

inline constexpr int kVectors = 27;                        // bottom output + 26 embeddings
inline constexpr int kPairs = kVectors * (kVectors - 1) / 2;  // 351

// With `bf16`, the GEMM's inputs are rounded to BF16 (fp32 accumulation and result; needs a CPU
// with AVX512_BF16 or AMX, see precision.hpp); bias, ReLU and column sums stay fp32.
// y = x * w^T + b, then ReLU if relu. x: rows x in (ldx), w: out x in, y: rows x out (ldy).
void linear_forward(int rows, int in, int out, const float* x, int ldx, const float* w,
                    const float* b, bool relu, float* y, int ldy, bool bf16 = false);
// Its two parts, for callers that time them apart (ModelWorkspace's step phases): y = x * w^T
// (overwritten), then y += b and ReLU if relu.
void linear_forward_gemm(int rows, int in, int out, const float* x, int ldx, const float* w, float* y, int ldy);
void add_bias(int rows, int out, const float* b, bool relu, float* y, int ldy);
// dx = dy * w. dy: rows x out (lddy), dx: rows x in (lddx), overwritten.
void linear_backward_data(int rows, int in, int out, const float* dy, int lddy, const float* w,
                          float* dx, int lddx, bool bf16 = false);
// dw = dy^T * x (out x in), db = column sums of dy (out); both overwritten.
void linear_backward_weights(int rows, int in, int out, const float* x, int ldx, const float* dy,
                             int lddy, float* dw, float* db, bool bf16 = false);
// Its two parts: dw = dy^T * x, then db = column sums of dy.
void linear_backward_weights_gemm(int rows, int in, int out, const float* x, int ldx, const float* dy, int lddy,
                                  float* dw);
void column_sums(int rows, int out, const float* dy, int lddy, float* db);
// The same three GEMMs on operands the caller already rounded to BF16 (uint16_t, round_to_bf16 /
// to_bf16 below), so that one copy serves several GEMMs of a step: x16, w16 and dy16 are the
// BF16 copies of x, w and dy with their own leading dimensions. Bias, ReLU and db stay fp32
// (linear_backward_weights_bf16 sums db from the fp32 dy; db null: the caller has summed it).
// y16 (optional): also y rounded to BF16, packed (leading dimension out), in the same pass (the
// next layer's input copy).
void linear_forward_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* w16,
                         const float* b, bool relu, float* y, int ldy, uint16_t* y16 = nullptr);
void linear_backward_data_bf16(int rows, int in, int out, const uint16_t* dy16, int lddy16, const uint16_t* w16,
                               float* dx, int lddx);
void linear_backward_weights_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* dy16,
                                  int lddy16, const float* dy, int lddy, float* dw, float* db);
// out (rows x cols, packed: leading dimension cols) = in (rows x cols, leading dimension ld)
// rounded to BF16 (nearest even).
void to_bf16(int rows, int cols, const float* in, int ld, uint16_t* out);
// w16 = the weights w (out x in) of a replica rounded to BF16: a snapshot taken with plain
// reads that race with Hogwild updates of w (the benign race of model_workspace.hpp, like the
// fp32 GEMMs' reads of w; suppressed by name in tests/tsan.supp).
void weights_to_bf16(int out, int in, const float* w, uint16_t* w16);
// dy[r][c] = 0 where y[r][c] <= 0 (ReLU backward through its output y). db (optional, cols):
// the column sums of the result, as column_sums would give them (same order of additions), in
// the same pass -- the bias gradient of the layer whose output gradient this is.
void relu_backward(int rows, int cols, const float* y, int ldy, float* dy, int lddy, float* db = nullptr);
// The same, also writing the result rounded to BF16 into dy16 (packed: leading dimension cols).
void relu_backward(int rows, int cols, const float* y, int ldy, float* dy, int lddy, uint16_t* dy16,
                   float* db = nullptr);

// Dot interaction. t: rows x 27 x d (vector 0 = bottom output, 1 + i = table i's embedding).
// z: rows x (d + 351): z[0..d) = t[0], then dot(t[i], t[j]) for i = 1..26, j = 0..i-1 (the
// lower triangle without the diagonal, row by row, as DLRM's tril_indices(offset=-1)).
void interaction_dot_forward(int rows, int d, const float* t, float* z);
// dt (rows x 27 x d, overwritten) from dz (rows x (d + 351)) and the forward input t.
void interaction_dot_backward(int rows, int d, const float* t, const float* dz, float* dt);
// The same over any number of vectors (t: rows x vectors x d). with_dense: vector 0 is the bottom
// output and z starts with it (z: rows x (d + pairs)); else z holds the pairs only (rows x
// pairs), pairs = vectors (vectors - 1) / 2 in the order above. vectors == 27 with_dense runs the
// two functions above (the same results); other shapes plain loops.
void interaction_dot_forward(int rows, int d, int vectors, bool with_dense, const float* t, float* z);
void interaction_dot_backward(int rows, int d, int vectors, bool with_dense, const float* t, const float* dz,
                              float* dt);

// BF16 GEMMs without the bias (the low-rank cross layers' V, which has none): y = x16 w16^T
// (overwritten) and dw = dy16^T x16 (overwritten).
void linear_forward_gemm_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16, const uint16_t* w16,
                              float* y, int ldy);
void linear_backward_weights_gemm_bf16(int rows, int in, int out, const uint16_t* x16, int ldx16,
                                       const uint16_t* dy16, int lddy16, float* dw);

// DCN-v2 cross layer, element-wise parts over n floats (rows x D, packed):
// forward  x_next = x0 * p + x (p = x W^T + b);
void cross_forward(size_t n, const float* x0, const float* p, const float* x, float* x_next);
// backward from g = dL/dx_next: dp = g * x0; dx0 = g * p (accumulate: dx0 += g * p).
void cross_backward(size_t n, const float* g, const float* x0, const float* p, float* dp, float* dx0,
                    bool accumulate);
// a += b over n floats.
void add_to(size_t n, float* a, const float* b);

// Numerically stable BCE of a logit z against a 0/1 label y:
// max(z, 0) - z * y + log1p(exp(-|z|)).
float bce_loss(float z, float y);
// Sum over rows of bce_loss(z[i], y[i]); dz[i] = (sigmoid(z[i]) - y[i]) * scale.
double bce_forward_backward(int rows, const float* z, const float* y, float scale, float* dz);

// Dense optimizers over n floats (any n; vectorized). Hogwild: w and s may be read and written
// by other threads at the same time; these loops use plain loads and stores on purpose (see
// model_workspace.hpp for why this benign race is accepted).
// Adagrad: s += g^2; w -= lr * g / (sqrt(s) + eps).
void adagrad_update(size_t n, float* w, float* s, const float* g, float lr, float eps);
// SGD: w -= lr * g.
void sgd_update(size_t n, float* w, const float* g, float lr);

}  // namespace shadowsync::layers
