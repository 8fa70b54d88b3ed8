// Hashing configuration: how raw Criteo categorical values map to embedding-table rows.
// It is stored in every binary cache and checkpoint; data hashed with one configuration must
// never be used with a model built for another, so equality is exact.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <vector>

namespace shadowsync {

// Criteo's layout, the default schema (FeatureSchema::criteo()): integer features I1..I13 and
// categorical features C1..C26. Other schemas have other counts (DataView's widths).
inline constexpr int kNumNumeric = 13;
inline constexpr int kNumSparse = 26;

struct HashingConfig {
  // Rows of each embedding table, one entry per table of the schema (feature order:
  // feature_schema.hpp). Row 0 of every table is reserved for a missing value; hashed values
  // land in rows 1..rows[t]-1. Each entry must be >= 2.
  std::vector<uint32_t> rows = std::vector<uint32_t>(kNumSparse, 0);
  // Mixed into every hash, so that different salts give independent row assignments.
  uint64_t salt = 0;

  static constexpr uint32_t kDefaultRowsPerTable = 1u << 17;
  // The documented range of a rows-per-table value chosen by a user (field rows_per_table, in
  // every front end and command that takes one; checked by rows_per_table_problem): 2 (row 0 = missing, one hashed row) to 2^30 (an embedding table of 2^30 rows is
  // already 4 GiB per float of width). Larger tables cannot be allocated for training, so a cache
  // is never written with them; a stored HashingConfig is still read whatever its sizes.
  static constexpr uint32_t kMinRowsPerTable = 2;
  static constexpr uint32_t kMaxRowsPerTable = 1u << 30;

  // `tables` tables (Criteo's 26 by default) with the same number of rows.
  static HashingConfig uniform(uint32_t rows_per_table = kDefaultRowsPerTable, uint64_t salt = 0,
                               int tables = kNumSparse) {
    HashingConfig config;
    config.rows.assign(size_t(tables), rows_per_table);
    config.salt = salt;
    return config;
  }

  int tables() const { return int(rows.size()); }

  friend bool operator==(const HashingConfig&, const HashingConfig&) = default;
};

// The one range check of a rows-per-table value chosen by a user. `rows` is the value, or
// nullopt when the front end could not read `given` (its text) as a non-negative integer.
// Returns "" when the value lies in [kMinRowsPerTable, kMaxRowsPerTable], else what is wrong,
// naming the value as given: "Value 1 not in range 2 to 1073741824".
std::string rows_per_table_problem(std::optional<uint64_t> rows, std::string_view given);

// Table sizes for data whose table t used distinct_rows[t] rows (besides row 0) when hashed with
// `measured` (what `shadowsync stats` counts): each table the smallest power of two >= 2 x
// distinct_rows[t] + 1, at least kMinRowsPerTable and at most measured.rows[t]. A table that used
// half its rows or more keeps measured.rows[t]: its count is lowered by collisions, so it says
// nothing about a smaller size. The salt is measured's.
HashingConfig tables_sized_for(std::span<const uint64_t> distinct_rows, const HashingConfig& measured);

// `rows` as a table size when it passes rows_per_table_problem; otherwise throws Error naming
// the field rows_per_table: "rows_per_table: Value 1 not in range 2 to 1073741824".
uint32_t checked_rows_per_table(uint64_t rows);

}  // namespace shadowsync
