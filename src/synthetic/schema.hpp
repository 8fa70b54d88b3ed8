// The synthetic Criteo-like schema: per-column distributions of the 13 integer and 26
// categorical features, the raw row they produce, and the sampler that draws rows.
//  - Categorical column c: Zipf(s_c) ranks over 1..cardinality_c (the Criteo Kaggle
//    cardinalities, 3 to ~10M), missing with probability missing_c; rank 0 = missing.
//  - Integer column j: with probability missing_j missing; else with probability negative_j a
//    small negative (-1 mostly, sometimes -2 or -3); else floor(exp(mu_j + sigma_j * N(0,1)))
//    (heavy-tailed counts with many zeros), capped at 2^31 - 1.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "rng.hpp"
#include "shadowsync/data/hashing.hpp"
#include "zipf.hpp"

namespace shadowsync::synthetic {

struct CategoricalColumnSpec {
  uint32_t cardinality;
  double zipf_exponent;
  double missing;
};

struct NumericColumnSpec {
  double mu;     // location of log(value)
  double sigma;  // scale of log(value)
  double missing;
  double negative;
};

extern const std::array<CategoricalColumnSpec, kNumSparse> kCategoricalColumns;
extern const std::array<NumericColumnSpec, kNumNumeric> kNumericColumns;

struct RawRow {
  std::array<int64_t, kNumNumeric> numeric{};
  std::array<bool, kNumNumeric> numeric_missing{};
  std::array<uint32_t, kNumSparse> rank{};  // 1..cardinality, 0 = missing
};

// log(1 + max(x, 0)), 0 when missing: the transform the data module applies, which the teacher
// uses as its numeric features.
inline double numeric_feature(const RawRow& row, int j) {
  if (row.numeric_missing[j] || row.numeric[j] <= 0) return 0.0;
  return std::log1p(static_cast<double>(row.numeric[j]));
}

class RowSampler {
 public:
  RowSampler();
  void sample(Rng& rng, RawRow& row) const;

 private:
  std::vector<ZipfSampler> zipf_;
};

}  // namespace shadowsync::synthetic

