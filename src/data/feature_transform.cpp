// Feature transforms: hashing-config validation, the per-table hasher keys and the numeric table.
#include "shadowsync/data/feature_transform.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

void validate_hashing(const HashingConfig& config, const std::string& where) {
  for (int t = 0; t < kNumSparse; ++t) {
    if (config.rows[t] < 2) {
      throw Error(where + ": table C" + std::to_string(t + 1) + " has " +
                  std::to_string(config.rows[t]) +
                  " rows; every table needs at least 2 (row 0 is for missing values)");
    }
  }
}

CategoryHasher::CategoryHasher(const HashingConfig& config) : config_(config) {
  validate_hashing(config, "hashing config");
  for (int t = 0; t < kNumSparse; ++t) {
    keys_[t] = table_key(t, config.salt);
    spans_[t] = config.rows[t] - 1;
  }
}

NumericTransform::NumericTransform() {
  for (int64_t x = 0; x < kTableSize; ++x) table_[static_cast<size_t>(x)] = transform_numeric(x);
}

}  // namespace shadowsync
