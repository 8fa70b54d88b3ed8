// The range check of a user-chosen rows-per-table value (one place for every front end).
#include "shadowsync/data/hashing.hpp"

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

}  // namespace shadowsync
