// Command-line options that several subcommands share, declared once so that they read, check
// and describe the same way everywhere.
#pragma once

#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/schema_request.hpp"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace shadowsync::cli {

// Adds --rows-per-table to `cmd`, storing into `rows` (left empty when not given). The value is
// read through the run option table (shadowsync/train/run_options.hpp), as `train` reads it: a
// value outside [HashingConfig::kMinRowsPerTable, kMaxRowsPerTable], or not an integer, throws
// Error naming the field (exit status 2):
//   --rows-per-table expects an integer in [2, 1073741824], got 1
// The help line is `description` followed by the range, "(2 to 1073741824)".
CLI::Option* add_rows_per_table(CLI::App& cmd, std::optional<uint64_t>& rows,
                                const std::string& description);

// Adds --delimiter to `cmd`, storing the byte into `delimiter` (default tab), read through the run
// option table as `train` reads it. Accepts one byte ("," for CSV), or "tab" / "\t" for a tab;
// anything else throws Error naming the field (exit status 2), e.g. "--delimiter expects one
// byte (...), got '-': '-' cannot separate Criteo fields (...)".
CLI::Option* add_delimiter(CLI::App& cmd, char& delimiter);

// Adds the options that state the columns of text data (docs/data.md, "Stating the columns"),
// storing into `request`: --header, --label NAME, --numeric NAME[:log1p|:identity],...,
// --categorical NAMES, --multi-hot NAME:SEP[:MAX_LENGTH[:sum|mean]],... (SEP one character, or
// the words comma / space), --ignore NAMES, --hex-ids and --schema FILE.json. Lists are
// comma-separated and may be repeated. Nothing given: Criteo's layout.
void add_schema_options(CLI::App& cmd, SchemaRequest& request);

// The schema of the data `paths` under `request` (schema_for_data): for text, as stated (the
// header or field count read from the first file); for a cache, its stored schema, which stated
// options must match. Errors name the options (--label, ...).
FeatureSchema schema_for_paths(const SchemaRequest& request, const std::vector<std::string>& paths, char delimiter);

// The callback commands give Dataset::open_many to name each file as it is read: with several
// files, a line "reading 2/3: day_1.gz" on standard error before each one (nothing for one file
// or when `quiet`).
OpeningFile print_reading_file(bool quiet);

}  // namespace shadowsync::cli
