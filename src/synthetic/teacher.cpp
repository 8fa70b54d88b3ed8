// The planted teacher (see teacher.hpp): hash-derived parameters and bias calibration.
#include "teacher.hpp"

#include <cmath>
#include <vector>

namespace shadowsync::synthetic {
namespace {

// Scales of the terms (tuned so the teacher's NE on its own labels is about 0.7-0.8).
constexpr double kLinearScale = 0.25;   // a_j = U * kLinearScale / sigma_j
constexpr double kTanhWeight = 0.5;     // w_j = U * kTanhWeight / sigma_j
constexpr double kTanhGain = 1.0;       // gamma
constexpr double kNumericCrossScale = 0.25;
constexpr double kMainEffectScale = 0.4; 
constexpr double kFactorScale = 0.5;    // each factor entry; 4 entries per factor
constexpr double kRankHalfLife = 256.0;

// Columns (0-based C index) with a per-id main effect, and the FM pairs.
constexpr int kMainColumns[] = {0, 1, 3, 4, 7, 9, 10, 12, 14, 17, 23, 25};
constexpr int kPairs[][2] = {{0, 1}, {5, 13}, {3, 12}, {7, 16}, {9, 14}, {2, 22}, {18, 10}};
constexpr int kCrossNumeric = 4;   // I5
constexpr int kCrossColumn = 5;  // C6

// Calibration sample of the bias.
constexpr int kCalibrationRows = 1 << 15;
constexpr uint64_t kCalibrationStream = 0xCA11B8A7E5EEDull;

enum Tag : uint64_t { kTagLinear = 1, kTagTanh, kTagMain, kTagU, kTagV, kTagCross };

// A weight of magnitude in [0.5, 1] * scale with a hash-chosen sign: keeps the strength of the
// numeric terms similar across seeds.
double signed_weight(uint64_t h, double scale) {
  const double magnitude = 0.5 + 0.5 * static_cast<double>(h & 0xFFFF) / 65535.0;
  return ((h >> 16) & 1 ? magnitude : -magnitude) * scale;
}

double rank_decay(uint32_t rank) {
  return 1.0 / std::sqrt(1.0 + static_cast<double>(rank - 1) / kRankHalfLife);
}

uint64_t id_hash(uint64_t seed, uint64_t tag, int column, uint32_t rank) {
  return hash_pair(seed ^ (tag * 0xD6E8FEB86659FD93ull), (static_cast<uint64_t>(column) << 32) | rank);
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

Teacher::Teacher(uint64_t seed, const RowSampler& sampler) : seed_(seed) {
  for (int j = 0; j < kNumNumeric; ++j) {
    const double sigma = kNumericColumns[j].sigma;
    linear_[j] = signed_weight(id_hash(seed, kTagLinear, j, 0), kLinearScale / sigma);
    tanh_weight_[j] = signed_weight(id_hash(seed, kTagTanh, j, 0), kTanhWeight / sigma);
    tanh_center_[j] = kNumericColumns[j].mu * (1.0 - kNumericColumns[j].missing);
  }
  // Bias: bisection on mean(sigmoid(bias + z_i)) = target over a fixed sample (monotone in bias).
  Rng rng(hash_pair(seed, kCalibrationStream));
  std::vector<double> z(kCalibrationRows);
  RawRow row;
  for (double& value : z) {
    sampler.sample(rng, row);
    value = logit_without_bias(row);
  }
  double lo = -30, hi = 30;
  for (int iter = 0; iter < 80; ++iter) {
    const double mid = 0.5 * (lo + hi);
    double mean = 0;
    for (double value : z) mean += sigmoid(mid + value);
    mean /= static_cast<double>(z.size());
    if (mean < kTargetPositiveRate) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  bias_ = 0.5 * (lo + hi);
}

double Teacher::logit_without_bias(const RawRow& row) const {
  std::array<double, kNumNumeric> d;
  double linear = 0, tanh_arg = 0;
  for (int j = 0; j < kNumNumeric; ++j) {
    d[j] = numeric_feature(row, j);
    linear += linear_[j] * d[j];
    tanh_arg += tanh_weight_[j] * (d[j] - tanh_center_[j]);
  }
  double z = linear + kTanhGain * std::tanh(tanh_arg);

  if (const uint32_t r = row.rank[kCrossColumn]; r != 0) {
    z += (d[kCrossNumeric] - tanh_center_[kCrossNumeric]) * kNumericCrossScale *
         unit_uniform16(id_hash(seed_, kTagCross, kCrossColumn, r), 0);
  }
  for (const int c : kMainColumns) {
    if (const uint32_t r = row.rank[c]; r != 0) {
      z += kMainEffectScale * rank_decay(r) * unit_uniform16(id_hash(seed_, kTagMain, c, r), 0);
    }
  }
  for (const auto& pair : kPairs) {
    const uint32_t r1 = row.rank[pair[0]];
    const uint32_t r2 = row.rank[pair[1]];
    if (r1 == 0 || r2 == 0) continue;
    const uint64_t hu = id_hash(seed_, kTagU, pair[0], r1);
    const uint64_t hv = id_hash(seed_, kTagV, pair[1], r2);
    double dot = 0;
    for (int lane = 0; lane < 4; ++lane) dot += unit_uniform16(hu, lane) * unit_uniform16(hv, lane);
    z += kFactorScale * kFactorScale * rank_decay(r1) * rank_decay(r2) * dot;
  }
  return z;
}

}  // namespace shadowsync::synthetic
