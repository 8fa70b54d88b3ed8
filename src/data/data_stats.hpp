// DataStats (private to src/data, used by `shadowsync stats` and its tests): per-column
// statistics of a DataView: positive rate, numeric missing share / mean / max of the transformed
// values, and per categorical table the missing share and how many hashed rows are used.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::data {

struct NumericColumnStats {
  std::optional<double> missing_share;  // unknown without the parse's missing counts
  double mean = 0.0;                    // over all rows, a missing value counting as 0
  float max = 0.0f;
};

struct SparseColumnStats {
  double missing_share = 0.0;  // share of rows with row 0 (missing)
  uint64_t distinct_rows = 0;  // distinct rows among 1..rows[t]-1 that some example uses
  double used_share = 0.0;     // distinct_rows / (rows[t] - 1)
};

struct DataStats {
  uint64_t rows = 0;
  double positive_rate = 0.0;
  std::array<NumericColumnStats, kNumNumeric> numeric{};
  std::array<SparseColumnStats, kNumSparse> sparse{};
};

// `data`: one view or the parts of several files (not copied).
// `numeric_missing` gives missing counts per numeric column when known (Dataset::numeric_missing()).
// Requires data.rows() >= 1 and every sparse value < hashing.rows[t] (a validated view). Any
// table size up to 2^32 - 1 rows works: a large table is counted by sorting the used rows
// instead of a bitmap, so memory stays O(data.rows()) per table.
DataStats compute_stats(const DataParts& data, const HashingConfig& hashing,
                        const std::optional<std::array<uint64_t, kNumNumeric>>& numeric_missing);

}  // namespace shadowsync::data
