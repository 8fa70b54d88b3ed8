// Feature transforms: hashing-config validation, the per-table hasher keys and the numeric table.
#include "shadowsync/data/feature_transform.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

void validate_hashing(const HashingConfig& config, const std::string& where) {
  for (size_t t = 0; t < config.rows.size(); ++t) {
    if (config.rows[t] < 2) {
      // Criteo's tables are named by their columns; another schema's by their place.
      const std::string table = config.rows.size() == size_t(kNumSparse) ? "C" + std::to_string(t + 1) : std::to_string(t);
      throw Error(where + ": table " + table + " has " +
                  std::to_string(config.rows[t]) +
                  " rows; every table needs at least 2 (row 0 is for missing values)");
    }
  }
}

CategoryHasher::CategoryHasher(const HashingConfig& config) : config_(config) {
  validate_hashing(config, "hashing config");
  keys_.resize(config.rows.size());
  spans_.resize(config.rows.size());
  for (size_t t = 0; t < config.rows.size(); ++t) {
    keys_[t] = table_key(int(t), config.salt);
    spans_[t] = config.rows[t] - 1;
  }
}

NumericTransform::NumericTransform() {
  for (int64_t x = 0; x < kTableSize; ++x) table_[static_cast<size_t>(x)] = transform_numeric(x);
}

}  // namespace shadowsync
