// Command-line options that several subcommands share, declared once so that they read, check
// and describe the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace shadowsync::cli {

// Adds --rows-per-table to `cmd`, storing into `rows` (left empty when not given). The range
// [HashingConfig::kMinRowsPerTable, kMaxRowsPerTable] is checked by the data library
// (rows_per_table_problem); a value outside it, or not a non-negative integer, is a usage error
// naming the option and the range (exit status 2):
//   --rows-per-table: Value 1 not in range 2 to 1073741824
// The help line is `description` followed by the range, "(2 to 1073741824)".
CLI::Option* add_rows_per_table(CLI::App& cmd, std::optional<uint64_t>& rows,
                                const std::string& description);

}  // namespace shadowsync::cli
