// The range check of a user-chosen rows-per-table value (one place for every front end), and
// table sizes from the rows a data set uses.
#include "shadowsync/data/hashing.hpp"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

std::string rows_per_table_problem(std::optional<uint64_t> rows, std::string_view given) {
  if (rows && *rows >= HashingConfig::kMinRowsPerTable &&
      *rows <= HashingConfig::kMaxRowsPerTable) {
    return {};
  }
  return fmt::format("Value {} not in range {} to {}", given, HashingConfig::kMinRowsPerTable,
                     HashingConfig::kMaxRowsPerTable);
}

uint32_t checked_rows_per_table(uint64_t rows) {
  const std::string problem = rows_per_table_problem(rows, std::to_string(rows));
  if (!problem.empty()) throw Error(field("rows_per_table") + ": " + problem);
  return static_cast<uint32_t>(rows);
}

HashingConfig tables_sized_for(std::span<const uint64_t> distinct_rows, const HashingConfig& measured) {
  if (distinct_rows.size() != measured.rows.size()) {
    throw Error(fmt::format("table sizes: {} counts of distinct rows for {} tables", distinct_rows.size(), measured.rows.size()));
  }
  HashingConfig sized = measured;
  for (size_t t = 0; t < measured.rows.size(); ++t) {
    const uint64_t table = measured.rows[t];
    if (2 * distinct_rows[t] >= table) continue;  // saturated: keep the measured size
    const uint64_t wanted = std::bit_ceil(2 * distinct_rows[t] + 1);
    sized.rows[t] = static_cast<uint32_t>(std::clamp<uint64_t>(wanted, HashingConfig::kMinRowsPerTable, table));
  }
  return sized;
}

}  // namespace shadowsync
