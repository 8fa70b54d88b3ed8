// Teacher: the planted model whose logit draws the synthetic labels (Bernoulli(sigmoid(logit))).
// All its parameters derive from the seed by hashing, so nothing per id is stored:
//   logit = bias
//         + sum_j a_j * d_j                                      (d_j = log1p(max(x_j, 0)))
//         + gamma * tanh(sum_j w_j * (d_j - c_j))                 (nonlinear numeric term)
//         + (d_{I5} - c_{I5}) * g(C6 id)                          (numeric x categorical)
//         + sum_{c in main columns} e_c(id_c)                     (per-id effects)
//         + sum_{(c1, c2) in pairs} <u_{c1}(id_c1), v_{c2}(id_c2)>  (FM-style interactions)
// Per-id effects and factors shrink with the id's Zipf rank k as 1 / sqrt(1 + (k - 1) / 256),
// so frequent ids (learnable from 1e5-1e6 rows) carry most of the signal. Missing ids add 0.
// The bias is calibrated on a fixed, seed-derived sample of rows so that the mean predicted
// click rate is kTargetPositiveRate.
#pragma once

#include <array>
#include <cstdint>

#include "schema.hpp"

namespace shadowsync::synthetic {

inline constexpr double kTargetPositiveRate = 0.25;

class Teacher {
 public:
  Teacher(uint64_t seed, const RowSampler& sampler);

  double logit(const RawRow& row) const { return bias_ + logit_without_bias(row); }
  double bias() const { return bias_; }

 private:
  double logit_without_bias(const RawRow& row) const;

  uint64_t seed_;
  std::array<double, kNumNumeric> linear_{};
  std::array<double, kNumNumeric> tanh_weight_{};
  std::array<double, kNumNumeric> tanh_center_{};
  double bias_ = 0;
};

}  // namespace shadowsync::synthetic
