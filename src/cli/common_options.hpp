// Command-line options that several subcommands share, declared once so that they read, check
// and describe the same way everywhere.
#pragma once

#include "shadowsync/data/dataset.hpp"

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

// Adds --delimiter to `cmd`, storing the byte into `delimiter` (default tab). Accepts one byte
// ("," for CSV), or "tab" / "\t" for a tab; anything else is a usage error naming the option
// (exit status 2), e.g. "--delimiter: '-' cannot separate Criteo fields (...)".
CLI::Option* add_delimiter(CLI::App& cmd, char& delimiter);

// The callback commands give Dataset::open_many to name each file as it is read: with several
// files, a line "reading 2/3: day_1.gz" on standard error before each one (nothing for one file
// or when `quiet`).
OpeningFile print_reading_file(bool quiet);

}  // namespace shadowsync::cli
