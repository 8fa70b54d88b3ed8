// The model's kernels (src/model/layers.*) one at a time: fully connected + ReLU, the dot
// interaction, BCE and the optimizers, against naive double code and finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "model/layers.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync::layers {
namespace {

std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// L = sum(c * relu(x w^T + b)) in double.
double linear_objective(int rows, int in, int out, const std::vector<double>& x, const std::vector<double>& w,
                        const std::vector<double>& b, const std::vector<float>& c, bool relu) {
  double sum = 0;
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double y = b[size_t(o)];
      for (int i = 0; i < in; ++i) y += x[size_t(r * in + i)] * w[size_t(o * in + i)];
      if (relu) y = std::max(y, 0.0);
      sum += c[size_t(r * out + o)] * y;
    }
  }
  return sum;
}

TEST(Layers, LinearReluForwardAndBackwardMatchReference) {
  for (bool relu : {true, false}) {
    const int rows = 5, in = 7, out = 6;
    const auto x = random_vector(rows * in, 1), w = random_vector(out * in, 2), b = random_vector(out, 3);
    const auto c = random_vector(rows * out, 4);
    std::vector<float> y(rows * out);
    linear_forward(rows, in, out, x.data(), in, w.data(), b.data(), relu, y.data(), out);
    for (int r = 0; r < rows; ++r) {
      for (int o = 0; o < out; ++o) {
        double ref = b[size_t(o)];
        for (int i = 0; i < in; ++i) ref += double(x[size_t(r * in + i)]) * w[size_t(o * in + i)];
        if (relu) ref = std::max(ref, 0.0);
        EXPECT_NEAR(y[size_t(r * out + o)], ref, 1e-5);
      }
    }
    // Backward: dy = c, through ReLU, then data and weight gradients.
    std::vector<float> dy = c;
    if (relu) relu_backward(rows, out, y.data(), out, dy.data(), out);
    std::vector<float> dx(rows * in), dw(out * in), db(out);
    linear_backward_data(rows, in, out, dy.data(), out, w.data(), dx.data(), in);
    linear_backward_weights(rows, in, out, x.data(), in, dy.data(), out, dw.data(), db.data());
    std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
    const double h = 1e-6;
    auto fd = [&](double& p) {
      const double s = p;
      p = s + h;
      const double up = linear_objective(rows, in, out, xd, wd, bd, c, relu);
      p = s - h;
      const double down = linear_objective(rows, in, out, xd, wd, bd, c, relu);
      p = s;
      return (up - down) / (2 * h);
    };
    for (size_t i = 0; i < xd.size(); ++i) EXPECT_NEAR(dx[i], fd(xd[i]), 1e-4) << "dx " << i;
    for (size_t i = 0; i < wd.size(); ++i) EXPECT_NEAR(dw[i], fd(wd[i]), 1e-4) << "dw " << i;
    for (size_t i = 0; i < bd.size(); ++i) EXPECT_NEAR(db[i], fd(bd[i]), 1e-4) << "db " << i;
  }
}

TEST(Layers, LinearHonoursLeadingDimensions) {
  // x rows are strided (ldx 10 > in 4), output strided (ldy 9 > out 3).
  const int rows = 3, in = 4, out = 3;
  const auto x = random_vector(rows * 10, 5), w = random_vector(out * in, 6), b = random_vector(out, 7);
  std::vector<float> y(rows * 9, 123.0f);
  linear_forward(rows, in, out, x.data(), 10, w.data(), b.data(), false, y.data(), 9);
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < out; ++o) {
      double ref = b[size_t(o)];
      for (int i = 0; i < in; ++i) ref += double(x[size_t(r * 10 + i)]) * w[size_t(o * in + i)];
      EXPECT_NEAR(y[size_t(r * 9 + o)], ref, 1e-5);
    }
    for (int o = out; o < 9; ++o) EXPECT_EQ(y[size_t(r * 9 + o)], 123.0f);
  }
}

// Naive dot interaction in double: z = [t0, dots of the lower triangle].
std::vector<double> naive_dot(int d, const std::vector<double>& t) {
  std::vector<double> z(t.begin(), t.begin() + d);
  for (int i = 1; i < kVectors; ++i) {
    for (int j = 0; j < i; ++j) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += t[size_t(i * d + k)] * t[size_t(j * d + k)];
      z.push_back(s);
    }
  }
  return z;
}

TEST(Layers, DotInteractionMatchesNaiveAndFiniteDifferences) {
  for (int d : {1, 4, 5, 16, 20}) {
    const int rows = 3, width = d + kPairs;
    const auto t = random_vector(size_t(rows) * kVectors * d, 10 + d);
    const auto c = random_vector(size_t(rows) * width, 20 + d);
    std::vector<float> z(size_t(rows) * width), dt(size_t(rows) * kVectors * d);
    interaction_dot_forward(rows, d, t.data(), z.data());
    interaction_dot_backward(rows, d, t.data(), c.data(), dt.data());
    for (int r = 0; r < rows; ++r) {
      std::vector<double> tr(t.begin() + r * kVectors * d, t.begin() + (r + 1) * kVectors * d);
      const auto ref = naive_dot(d, tr);
      ASSERT_EQ(ref.size(), size_t(width));
      for (int k = 0; k < width; ++k) ASSERT_NEAR(z[size_t(r * width + k)], ref[size_t(k)], 1e-5) << d;
      // Objective sum(c * z): finite differences per input.
      auto objective = [&] {
        const auto zz = naive_dot(d, tr);
        double s = 0;
        for (int k = 0; k < width; ++k) s += c[size_t(r * width + k)] * zz[size_t(k)];
        return s;
      };
      const double h = 1e-6;
      for (size_t i = 0; i < tr.size(); ++i) {
        const double saved = tr[i];
        tr[i] = saved + h;
        const double up = objective();
        tr[i] = saved - h;
        const double down = objective();
        tr[i] = saved;
        EXPECT_NEAR(dt[size_t(r) * kVectors * d + i], (up - down) / (2 * h), 1e-4) << "d " << d << " i " << i;
      }
    }
  }
}

TEST(Layers, BceMatchesDefinitionAndIsStableForLargeLogits) {
  for (double z : {-8.0, -1.5, -0.1, 0.0, 0.3, 2.0, 9.0}) {
    for (double y : {0.0, 1.0}) {
      const double p = 1 / (1 + std::exp(-z));
      const double ref = -(y * std::log(p) + (1 - y) * std::log(1 - p));
      EXPECT_NEAR(bce_loss(float(z), float(y)), ref, 1e-6 * (1 + ref));
      float dz = 0;
      const float zf = float(z), yf = float(y);
      bce_forward_backward(1, &zf, &yf, 0.5f, &dz);
      EXPECT_NEAR(dz, 0.5 * (p - y), 1e-7);
    }
  }
  // |z| = 100: the naive formula overflows / gives log(0); the stable one gives |z| or ~0.
  EXPECT_FLOAT_EQ(bce_loss(100.0f, 0.0f), 100.0f);
  EXPECT_FLOAT_EQ(bce_loss(-100.0f, 1.0f), 100.0f);
  EXPECT_GE(bce_loss(100.0f, 1.0f), 0.0f);
  EXPECT_LT(bce_loss(100.0f, 1.0f), 1e-30f);
  const float z[4] = {100.0f, -100.0f, 1000.0f, -1000.0f}, y[4] = {0, 1, 1, 0};
  float dz[4];
  const double sum = bce_forward_backward(4, z, y, 1.0f, dz);
  EXPECT_NEAR(sum, 200.0, 1e-3);
  EXPECT_FLOAT_EQ(dz[0], 1.0f);
  EXPECT_FLOAT_EQ(dz[1], -1.0f);
  EXPECT_FLOAT_EQ(dz[2], 0.0f);
  EXPECT_FLOAT_EQ(dz[3], 0.0f);
}

TEST(Layers, OptimizersMatchTheirFormulas) {
  const size_t n = 37;  // not a multiple of the vector width
  auto w = random_vector(n, 30), s = random_vector(n, 31, 0.0f, 1.0f), g = random_vector(n, 32);
  const auto w0 = w, s0 = s;
  adagrad_update(n, w.data(), s.data(), g.data(), 0.1f, 1e-8f);
  for (size_t i = 0; i < n; ++i) {
    const double si = double(s0[i]) + double(g[i]) * g[i];
    EXPECT_NEAR(s[i], si, 1e-6);
    EXPECT_NEAR(w[i], w0[i] - 0.1 * g[i] / (std::sqrt(si) + 1e-8), 1e-6);
  }
  // g^2 overflows to s = +inf in some lanes (vector body and scalar tail): the step is
  // lr * g / inf = 0, so those weights stay put (no NaN).
  std::vector<float> wi(n, 0.25f), si(n, 1.0f), gi(n, 0.5f);
  for (size_t i = 0; i < n; i += 3) gi[i] = 1e20f;
  adagrad_update(n, wi.data(), si.data(), gi.data(), 0.1f, 1e-8f);
  for (size_t i = 0; i < n; ++i) {
    if (i % 3 == 0) {
      EXPECT_TRUE(std::isinf(si[i])) << i;
      EXPECT_EQ(wi[i], 0.25f) << i;
    } else {
      EXPECT_NEAR(wi[i], 0.25 - 0.1 * 0.5 / std::sqrt(1.25), 1e-6) << i;
    }
  }
  auto v = w0;
  sgd_update(n, v.data(), g.data(), 0.5f);
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(v[i], w0[i] - 0.5 * g[i], 1e-6);
}

// The BF16 GEMMs of the three linear kernels against fp32, element by element: rounding each
// input to BF16 (8 significant bits, relative error at most 2^-9) moves each product by at most
// 2^-8 of |a||b| (first order), so an output within 2^-8 sum |a||b| of fp32's (plus fp32
// accumulation slack). And the inputs really were rounded (not bit-equal to fp32).
TEST(Layers, Bf16LinearWithinBf16RoundingOfFp32) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const int rows = 37, in = 45, out = 29;
  std::mt19937 rng(9);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(size_t(rows) * in), w(size_t(out) * in), b(static_cast<size_t>(out)), dy(size_t(rows) * out);
  for (auto* v : {&x, &w, &b, &dy}) {
    for (float& e : *v) e = n(rng);
  }
  auto abs_of = [](std::vector<float> v) {
    for (float& e : v) e = std::fabs(e);
    return v;
  };
  const std::vector<float> ax = abs_of(x), aw = abs_of(w), ady = abs_of(dy), zero(size_t(out), 0.0f);
  auto check = [](const std::vector<float>& got, const std::vector<float>& expected, const std::vector<float>& scale,
                  const char* what) {
    bool differs = false;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_LE(std::fabs(double(got[i]) - expected[i]), std::ldexp(1.0, -8) * scale[i] * 1.01 + 1e-5) << what << " " << i;
      differs = differs || got[i] != expected[i];
    }
    EXPECT_TRUE(differs) << what << ": the inputs were not rounded to BF16";
  };
  std::vector<float> y32(size_t(rows) * out), y16(y32.size()), scale(y32.size());
  linear_forward(rows, in, out, x.data(), in, w.data(), b.data(), false, y32.data(), out);
  linear_forward(rows, in, out, x.data(), in, w.data(), b.data(), false, y16.data(), out, true);
  linear_forward(rows, in, out, ax.data(), in, aw.data(), zero.data(), false, scale.data(), out);
  check(y16, y32, scale, "forward");
  std::vector<float> dx32(size_t(rows) * in), dx16(dx32.size()), dscale(dx32.size());
  linear_backward_data(rows, in, out, dy.data(), out, w.data(), dx32.data(), in);
  linear_backward_data(rows, in, out, dy.data(), out, w.data(), dx16.data(), in, true);
  linear_backward_data(rows, in, out, ady.data(), out, aw.data(), dscale.data(), in);
  check(dx16, dx32, dscale, "backward data");
  std::vector<float> dw32(size_t(out) * in), dw16(dw32.size()), wscale(dw32.size()), db32(static_cast<size_t>(out)), db16(db32.size());
  linear_backward_weights(rows, in, out, x.data(), in, dy.data(), out, dw32.data(), db32.data());
  linear_backward_weights(rows, in, out, x.data(), in, dy.data(), out, dw16.data(), db16.data(), true);
  linear_backward_weights(rows, in, out, ax.data(), in, ady.data(), out, wscale.data(), db16.data());
  check(dw16, dw32, wscale, "backward weights");
  linear_backward_weights(rows, in, out, x.data(), in, dy.data(), out, dw16.data(), db16.data(), true);
  EXPECT_EQ(db16, db32) << "bias gradients stay fp32";
}

TEST(Layers, ToBf16RoundsToNearestEvenAndPacksRows) {
  // 1 + 2^-8 is halfway between the BF16 neighbours 1 and 1 + 2^-7: to the even one (1).
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: to the even one (1 + 2^-6).
  const std::vector<float> in = {1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f, 999.0f /* padding */,
                                 1.0f + 0x1p-8f + 0x1p-20f, 0.0f, -0.0f, 3.0e38f, 999.0f /* padding */};
  std::vector<uint16_t> out(8, 0xAAAA);
  to_bf16(2, 4, in.data(), 5, out.data());  // 2 rows of 4, stored with leading dimension 5
  EXPECT_EQ(out, (std::vector<uint16_t>{0x3F80, 0x3F80, 0x3F82, 0xC020, 0x3F81, 0x0000, 0x8000, 0x7F62}));
}

// The scalar formula of round_to_bf16 (nearest even), one float at a time: the reference of
// to_bf16 and weights_to_bf16's vectorized conversions.
uint16_t reference_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

TEST(Layers, Bf16ConversionsEqualTheScalarFormulaForEveryTail) {
  // Random floats of every magnitude, ties, zeros of both signs, the largest finite floats and
  // denormals (which VCVTNE2PS2BF16 would flush to zero), over sizes that leave every tail of a
  // 16- and 32-float block, in rows with leading dimensions wider than the row.
  std::mt19937_64 rng(5);
  std::vector<float> pool;
  for (int i = 0; i < 4000; ++i) {
    const uint32_t bits = uint32_t(rng());
    float x;
    std::memcpy(&x, &bits, 4);
    if (std::isfinite(x)) pool.push_back(x);
  }
  for (float x : {0.0f, -0.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 3.4028235e38f, -3.4028235e38f, 0x1p-149f,
                  -0x1p-130f, 0x1.fffffep-127f, 1.17549435e-38f}) {
    pool.push_back(x);
  }
  for (size_t i = 0; i < 200; ++i) pool.push_back(0x1p-140f * float(i));  // a run of denormals
  {
    for (int cols : {1, 15, 16, 31, 32, 33, 63, 64, 97, 367}) {
      for (int rows : {1, 3, 7}) {
        for (int pad : {0, 5}) {
          const int ld = cols + pad;
          std::vector<float> in(size_t(rows) * size_t(ld));
          for (size_t i = 0; i < in.size(); ++i) in[i] = pool[(i * 7 + size_t(cols) * 13 + size_t(rows)) % pool.size()];
          std::vector<uint16_t> out(size_t(rows) * size_t(cols), 0xAAAA), expected(out.size());
          for (int r = 0; r < rows; ++r) {
            for (int c = 0; c < cols; ++c) expected[size_t(r) * cols + c] = reference_bf16(in[size_t(r) * ld + c]);
          }
          to_bf16(rows, cols, in.data(), ld, out.data());
          ASSERT_EQ(out, expected) << "to_bf16 rows " << rows << " cols " << cols << " ld " << ld;
          if (pad == 0) {
            std::fill(out.begin(), out.end(), 0xAAAA);
            weights_to_bf16(rows, cols, in.data(), out.data());
            ASSERT_EQ(out, expected) << "weights_to_bf16 " << rows << " x " << cols;
          }
        }
      }
    }
  }
}

TEST(Layers, ReluBackwardsBiasGradientIsTheColumnSumsOfItsResultBitForBit) {
  // The fused bias gradient of both relu_backward overloads against relu_backward then
  // column_sums, compared as bits: the same additions in the same order. Odd widths (tails),
  // leading dimensions wider than the row, and a db that held other values before.
  for (int cols : {1, 16, 17, 70, 512}) {
    for (int rows : {1, 3, 128}) {
      const int ld = cols + 5;
      const std::vector<float> y = random_vector(size_t(rows) * ld, 31 + uint64_t(cols));
      const std::vector<float> dy0 = random_vector(size_t(rows) * ld, 32 + uint64_t(rows));
      std::vector<float> expected_dy = dy0;
      std::vector<float> expected_db(static_cast<size_t>(cols));
      relu_backward(rows, cols, y.data(), ld, expected_dy.data(), ld);
      column_sums(rows, cols, expected_dy.data(), ld, expected_db.data());
      std::vector<float> dy = dy0, db(size_t(cols), 7.0f);
      relu_backward(rows, cols, y.data(), ld, dy.data(), ld, db.data());
      ASSERT_EQ(dy, expected_dy) << rows << "x" << cols;
      ASSERT_EQ(0, std::memcmp(db.data(), expected_db.data(), db.size() * sizeof(float))) << rows << "x" << cols;
      std::vector<float> dy_bf = dy0, db_bf(size_t(cols), -3.0f);
      std::vector<uint16_t> dy16(size_t(rows) * cols);
      relu_backward(rows, cols, y.data(), ld, dy_bf.data(), ld, dy16.data(), db_bf.data());
      ASSERT_EQ(dy_bf, expected_dy) << rows << "x" << cols;
      ASSERT_EQ(0, std::memcmp(db_bf.data(), expected_db.data(), db.size() * sizeof(float))) << rows << "x" << cols;
      if (rows * cols >= 16) {  // the inputs make the sums non-trivial
        EXPECT_TRUE(std::any_of(expected_db.begin(), expected_db.end(), [](float v) { return v != 0.0f; }));
      }
    }
  }
}

TEST(Layers, FusedBf16CopiesEqualTheScalarFormula) {
  // relu_backward's dy16 and linear_forward_bf16's y16: each the BF16 rounding of the fp32
  // result it sits beside, for odd widths (tails) and rows with
  // leading dimensions wider than the row; dy holds denormals and ties.
  {
    for (int cols : {1, 17, 33, 70}) {
      const int rows = 5, ld = cols + 3;
      std::vector<float> y = random_vector(size_t(rows) * ld, 11 + uint64_t(cols));
      std::vector<float> dy = random_vector(size_t(rows) * ld, 12 + uint64_t(cols));
      for (size_t i = 0; i < dy.size(); i += 3) dy[i] = 0x1p-140f * float(i + 1);
      for (size_t i = 1; i < dy.size(); i += 7) dy[i] = 1.0f + 0x1p-8f;
      std::vector<float> expected_dy = dy;
      relu_backward(rows, cols, y.data(), ld, expected_dy.data(), ld);
      std::vector<uint16_t> dy16(size_t(rows) * cols, 0xAAAA);
      relu_backward(rows, cols, y.data(), ld, dy.data(), ld, dy16.data());
      ASSERT_EQ(dy, expected_dy) << cols;
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          ASSERT_EQ(dy16[size_t(r) * cols + c], reference_bf16(dy[size_t(r) * ld + c]))
              << "relu_backward dy16 " << r << "," << c << " cols " << cols;
        }
      }
      if (!precision_unsupported_reason(Precision::Bf16, machine_facts()).empty()) continue;
      const int in = 19;
      const std::vector<float> x = random_vector(size_t(rows) * in, 13), w = random_vector(size_t(cols) * in, 14),
                               b = random_vector(size_t(cols), 15);
      std::vector<uint16_t> x16(x.size()), w16(w.size()), y16(size_t(rows) * cols, 0xAAAA);
      to_bf16(rows, in, x.data(), in, x16.data());
      weights_to_bf16(cols, in, w.data(), w16.data());
      std::vector<float> out(size_t(rows) * ld, 0.0f);
      linear_forward_bf16(rows, in, cols, x16.data(), in, w16.data(), b.data(), true, out.data(), ld, y16.data());
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < cols; ++c) {
          ASSERT_EQ(y16[size_t(r) * cols + c], reference_bf16(out[size_t(r) * ld + c]))
              << "linear_forward_bf16 y16 " << r << "," << c << " cols " << cols;
        }
      }
    }
  }
}

TEST(Layers, Bf16KernelsOnRoundedCopiesEqualTheRoundingKernels) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  // The step rounds each operand once and passes the copies to several GEMMs: the results must
  // be those of the kernels that round their inputs themselves, bit for bit. x is stored with a
  // leading dimension wider than `in` (as the bottom MLP's output gradient inside dt).
  const int rows = 37, in = 45, out = 29, ldx = 50;
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(size_t(rows) * ldx), w(size_t(out) * in), b(static_cast<size_t>(out)), dy(size_t(rows) * out);
  for (auto* v : {&x, &w, &b, &dy}) {
    for (float& e : *v) e = n(rng);
  }
  std::vector<uint16_t> x16(size_t(rows) * in), w16(w.size()), dy16(dy.size());
  to_bf16(rows, in, x.data(), ldx, x16.data());
  weights_to_bf16(out, in, w.data(), w16.data());
  to_bf16(rows, out, dy.data(), out, dy16.data());

  std::vector<float> expected(size_t(rows) * out), got(expected.size());
  linear_forward(rows, in, out, x.data(), ldx, w.data(), b.data(), true, expected.data(), out, true);
  linear_forward_bf16(rows, in, out, x16.data(), in, w16.data(), b.data(), true, got.data(), out);
  EXPECT_EQ(got, expected) << "forward";
  // The fused copy of the output (the next layer's input): y rounded to BF16, bit for bit.
  std::vector<uint16_t> y16(size_t(rows) * out), y16_expected(y16.size());
  linear_forward_bf16(rows, in, out, x16.data(), in, w16.data(), b.data(), true, got.data(), out, y16.data());
  EXPECT_EQ(got, expected) << "forward with the output's BF16 copy";
  to_bf16(rows, out, expected.data(), out, y16_expected.data());
  EXPECT_EQ(y16, y16_expected) << "the output's BF16 copy";
  // The ReLU backward's fused copy: the masked gradient rounded to BF16.
  std::vector<float> masked = dy, masked_fused = dy;
  std::vector<uint16_t> masked16(dy.size()), masked16_expected(dy.size());
  relu_backward(rows, out, expected.data(), out, masked.data(), out);
  relu_backward(rows, out, expected.data(), out, masked_fused.data(), out, masked16.data());
  EXPECT_EQ(masked_fused, masked) << "relu backward with the BF16 copy";
  to_bf16(rows, out, masked.data(), out, masked16_expected.data());
  EXPECT_EQ(masked16, masked16_expected) << "relu backward's BF16 copy";

  std::vector<float> dx_expected(size_t(rows) * in), dx_got(dx_expected.size());
  linear_backward_data(rows, in, out, dy.data(), out, w.data(), dx_expected.data(), in, true);
  linear_backward_data_bf16(rows, in, out, dy16.data(), out, w16.data(), dx_got.data(), in);
  EXPECT_EQ(dx_got, dx_expected) << "backward data";

  std::vector<float> dw_expected(size_t(out) * in), dw_got(dw_expected.size()), db_expected(static_cast<size_t>(out)), db_got(static_cast<size_t>(out));
  linear_backward_weights(rows, in, out, x.data(), ldx, dy.data(), out, dw_expected.data(), db_expected.data(), true);
  linear_backward_weights_bf16(rows, in, out, x16.data(), in, dy16.data(), out, dy.data(), out, dw_got.data(),
                               db_got.data());
  EXPECT_EQ(dw_got, dw_expected) << "backward weights";
  EXPECT_EQ(db_got, db_expected) << "bias gradients: fp32 column sums of dy";
}

}  // namespace
}  // namespace shadowsync::layers
