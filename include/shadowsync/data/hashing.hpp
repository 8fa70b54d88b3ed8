// Hashing configuration: how raw Criteo categorical values map to embedding-table rows.
// It is stored in every binary cache and checkpoint; data hashed with one configuration must
// never be used with a model built for another, so equality is exact.
#pragma once

#include <array>
#include <cstdint>

namespace shadowsync {

inline constexpr int kNumNumeric = 13;   // integer features I1..I13
inline constexpr int kNumSparse = 26;  // categorical features C1..C26

struct HashingConfig {
  // Rows of each embedding table. Row 0 of every table is reserved for a missing value; hashed
  // values land in rows 1..rows[t]-1. Each entry must be >= 2.
  std::array<uint32_t, kNumSparse> rows{};
  // Mixed into every hash, so that different salts give independent row assignments.
  uint64_t salt = 0;

  static constexpr uint32_t kDefaultRowsPerTable = 1u << 17;
  // The documented range of the --rows-per-table option of every command (convert, stats,
  // train): 2 (row 0 = missing, one hashed row) to 2^30 (an embedding table of 2^30 rows is
  // already 4 GiB per float of width). Larger tables cannot be allocated for training, so a cache
  // is never written with them; a stored HashingConfig is still read whatever its sizes.
  static constexpr uint32_t kMinRowsPerTable = 2;
  static constexpr uint32_t kMaxRowsPerTable = 1u << 30;

  // Every table with the same number of rows.
  static HashingConfig uniform(uint32_t rows_per_table = kDefaultRowsPerTable, uint64_t salt = 0) {
    HashingConfig config;
    config.rows.fill(rows_per_table);
    config.salt = salt;
    return config;
  }

  friend bool operator==(const HashingConfig&, const HashingConfig&) = default;
};

}  // namespace shadowsync
