// Column tables and the row sampler (see schema.hpp).
#include "schema.hpp"

#include <algorithm>
#include <cmath>

namespace shadowsync::synthetic {

// Cardinalities of the Criteo Kaggle training set's C1..C26; missing rates close to Criteo's.
const std::array<CategoricalColumnSpec, kNumSparse> kCategoricalColumns = {{
    {1460, 1.05, 0.0},      // C1
    {583, 1.05, 0.0},       // C2
    {10131227, 1.15, 0.034},  // C3
    {2202608, 1.1, 0.034},  // C4
    {305, 1.0, 0.0},        // C5
    {24, 0.8, 0.12},        // C6
    {12517, 1.1, 0.0},      // C7
    {633, 1.05, 0.0},       // C8
    {3, 0.7, 0.0},          // C9
    {93145, 1.1, 0.0},      // C10
    {5683, 1.05, 0.0},      // C11
    {8351593, 1.15, 0.034},  // C12
    {3194, 1.05, 0.0},      // C13
    {27, 0.8, 0.0},         // C14
    {14992, 1.1, 0.0},      // C15
    {5461306, 1.15, 0.034},  // C16
    {10, 0.8, 0.0},         // C17
    {5652, 1.05, 0.0},      // C18
    {2173, 1.05, 0.44},     // C19
    {4, 0.7, 0.44},         // C20
    {7046547, 1.15, 0.034},  // C21
    {18, 0.8, 0.76},        // C22
    {15, 0.8, 0.0},         // C23
    {286181, 1.1, 0.034},   // C24
    {105, 1.0, 0.44},       // C25
    {142572, 1.1, 0.44},    // C26
}};

// Missing rates close to Criteo's I1..I13; I2 carries the negatives, as in Criteo.
const std::array<NumericColumnSpec, kNumNumeric> kNumericColumns = {{
    {0.8, 1.0, 0.45, 0.0},     // I1
    {2.0, 1.8, 0.0, 0.1},      // I2
    {1.5, 1.3, 0.21, 0.0},     // I3
    {1.5, 0.9, 0.22, 0.0},     // I4
    {7.0, 2.0, 0.026, 0.0},    // I5
    {3.0, 1.6, 0.22, 0.0},     // I6
    {1.2, 1.4, 0.04, 0.0},     // I7
    {2.2, 1.0, 0.0005, 0.0},   // I8
    {3.5, 1.4, 0.04, 0.0},     // I9
    {0.3, 0.6, 0.45, 0.0},     // I10
    {0.8, 0.9, 0.04, 0.0},     // I11
    {0.2, 0.8, 0.76, 0.0},     // I12
    {1.5, 1.0, 0.22, 0.0},     // I13
}};

RowSampler::RowSampler() {
  zipf_.reserve(kNumSparse);
  for (const auto& c : kCategoricalColumns) zipf_.emplace_back(c.cardinality, c.zipf_exponent);
}

void RowSampler::sample(Rng& rng, RawRow& row) const {
  constexpr double kMaxValue = 2147483647.0;
  for (int j = 0; j < kNumNumeric; ++j) {
    const NumericColumnSpec& spec = kNumericColumns[j];
    row.numeric_missing[j] = rng.uniform() < spec.missing;
    if (row.numeric_missing[j]) {
      row.numeric[j] = 0;
      continue;
    }
    if (spec.negative > 0 && rng.uniform() < spec.negative) {
      const double u = rng.uniform();
      row.numeric[j] = u < 0.9 ? -1 : (u < 0.97 ? -2 : -3);
      continue;
    }
    const double value = std::floor(std::exp(spec.mu + spec.sigma * rng.normal()));
    row.numeric[j] = static_cast<int64_t>(std::min(value, kMaxValue));
  }
  for (int c = 0; c < kNumSparse; ++c) {
    if (rng.uniform() < kCategoricalColumns[c].missing) {
      row.rank[c] = 0;
    } else {
      row.rank[c] = static_cast<uint32_t>(zipf_[c].sample(rng));
    }
  }
}

}  // namespace shadowsync::synthetic
