// The planted teacher of a synthetic log of any schema (see schema_teacher.hpp).
#include "schema_teacher.hpp"

#include <cmath>

namespace shadowsync::synthetic {
namespace {

// Scales of the terms (as Criteo's teacher, teacher.cpp; the multi-hot terms of the same order
// as a categorical column's).
constexpr double kLinearScale = 0.25;
constexpr double kTanhWeight = 0.5;
constexpr double kTanhGain = 1.0;
constexpr double kNumericCrossScale = 0.25;
constexpr double kMainEffectScale = 0.4;
constexpr double kFactorScale = 0.5;
constexpr double kListEffectScale = 0.6;
constexpr double kRankHalfLife = 256.0;
constexpr int kCalibrationRows = 1 << 15;
constexpr uint64_t kCalibrationStream = 0xCA11B8A7E5EEDull;

enum Tag : uint64_t { kTagLinear = 1, kTagTanh, kTagMain, kTagU, kTagV, kTagCross };

double signed_weight(uint64_t h, double scale) {
  const double magnitude = 0.5 + 0.5 * static_cast<double>(h & 0xFFFF) / 65535.0;
  return ((h >> 16) & 1 ? magnitude : -magnitude) * scale;
}

double rank_decay(uint32_t rank) { return 1.0 / std::sqrt(1.0 + static_cast<double>(rank - 1) / kRankHalfLife); }

uint64_t id_hash(uint64_t seed, uint64_t tag, int column, uint32_t rank) {
  return hash_pair(seed ^ (tag * 0xD6E8FEB86659FD93ull), (static_cast<uint64_t>(column) << 32) | rank);
}

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

SchemaTeacher::SchemaTeacher(uint64_t seed, const SchemaRowSampler& sampler, int left_out)
    : seed_(seed), sampler_(sampler), left_out_(left_out) {
  const SyntheticSpec& spec = sampler.spec();
  for (int j = 0; j < sampler.numeric_count(); ++j) {
    const int column = sampler.numeric_column(j);
    const SyntheticColumnSpec& c = spec.columns[static_cast<size_t>(column)];
    linear_.push_back(signed_weight(id_hash(seed, kTagLinear, column, 0), kLinearScale / c.sigma));
    tanh_weight_.push_back(signed_weight(id_hash(seed, kTagTanh, column, 0), kTanhWeight / c.sigma));
    tanh_center_.push_back(c.mu * (1.0 - c.missing));
  }
  Rng rng(hash_pair(seed, kCalibrationStream));
  std::vector<double> z(kCalibrationRows);
  SchemaRow row;
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
    (mean < kTargetPositiveRate ? lo : hi) = mid;
  }
  bias_ = 0.5 * (lo + hi);
}

double SchemaTeacher::logit_without_bias(const SchemaRow& row) const {
  const SyntheticSpec& spec = sampler_.spec();
  const int numeric = sampler_.numeric_count();
  const int categorical = sampler_.categorical_count();
  double linear = 0, tanh_arg = 0, d0 = 0;
  for (int j = 0; j < numeric; ++j) {
    if (!used(sampler_.numeric_column(j))) continue;
    const double d = schema_numeric_feature(spec, row, j);
    if (j == 0) d0 = d - tanh_center_[0];
    linear += linear_[static_cast<size_t>(j)] * d;
    tanh_arg += tanh_weight_[static_cast<size_t>(j)] * (d - tanh_center_[static_cast<size_t>(j)]);
  }
  double z = linear + kTanhGain * std::tanh(tanh_arg);
  // The first categorical column's id, its factor (for the FM products with lists) and its
  // cross with the first numeric feature.
  const int first = categorical > 0 ? sampler_.table_column(0) : -1;
  const uint32_t first_rank = categorical > 0 && used(first) ? row.rank[0] : 0;
  if (first_rank != 0 && numeric > 0 && used(sampler_.numeric_column(0))) {
    z += d0 * kNumericCrossScale * unit_uniform16(id_hash(seed_, kTagCross, first, first_rank), 0);
  }
  for (int t = 0; t < categorical; ++t) {
    const int column = sampler_.table_column(t);
    const uint32_t r = row.rank[static_cast<size_t>(t)];
    if (r == 0 || !used(column)) continue;
    z += kMainEffectScale * rank_decay(r) * unit_uniform16(id_hash(seed_, kTagMain, column, r), 0);
  }
  for (int t = 0; t + 1 < categorical; t += 2) {  // FM pairs (0, 1), (2, 3), ...
    const int c1 = sampler_.table_column(t), c2 = sampler_.table_column(t + 1);
    const uint32_t r1 = row.rank[static_cast<size_t>(t)], r2 = row.rank[static_cast<size_t>(t + 1)];
    if (r1 == 0 || r2 == 0 || !used(c1) || !used(c2)) continue;
    const uint64_t hu = id_hash(seed_, kTagU, c1, r1), hv = id_hash(seed_, kTagV, c2, r2);
    double dot = 0;
    for (int lane = 0; lane < 4; ++lane) dot += unit_uniform16(hu, lane) * unit_uniform16(hv, lane);
    z += kFactorScale * kFactorScale * rank_decay(r1) * rank_decay(r2) * dot;
  }
  const uint64_t hv_first = first_rank != 0 ? id_hash(seed_, kTagV, first, first_rank) : 0;
  for (int m = 0; m < sampler_.multi_hot_count(); ++m) {
    const int column = sampler_.table_column(categorical + m);
    const std::vector<uint32_t>& list = row.lists[static_cast<size_t>(m)];
    if (list.empty() || !used(column)) continue;
    // Pooled ids: the sum of their effects / sqrt(length), and their mean factor.
    double effects = 0, factor[4] = {0, 0, 0, 0};
    for (const uint32_t r : list) {
      effects += rank_decay(r) * unit_uniform16(id_hash(seed_, kTagMain, column, r), 0);
      const uint64_t hu = id_hash(seed_, kTagU, column, r);
      for (int lane = 0; lane < 4; ++lane) factor[lane] += rank_decay(r) * unit_uniform16(hu, lane);
    }
    const double length = static_cast<double>(list.size());
    z += kListEffectScale * effects / std::sqrt(length);
    if (first_rank != 0) {
      double dot = 0;
      for (int lane = 0; lane < 4; ++lane) dot += factor[lane] / length * unit_uniform16(hv_first, lane);
      z += kFactorScale * rank_decay(first_rank) * dot;
    }
  }
  return z;
}

}  // namespace shadowsync::synthetic
