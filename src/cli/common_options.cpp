// The options several commands share: --rows-per-table and --delimiter (read through the run
// option table, as `train` reads them), the schema options (--label, --numeric, ...), and the
// "reading i/N: FILE" progress callback.
#include "common_options.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <string>

#include "run_option_flags.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/train/run_options.hpp"

namespace shadowsync::cli {

CLI::Option* add_rows_per_table(CLI::App& cmd, std::optional<uint64_t>& rows,
                                const std::string& description) {
  const RunOption& option = run_option("rows_per_table");
  return cmd
      .add_option_function<std::string>(
          "--rows-per-table",
          [&rows, &option](const std::string& text) { rows = std::get<uint64_t>(option.parse_text(text)); },
          fmt::format("{} ({} to {})", description, HashingConfig::kMinRowsPerTable, HashingConfig::kMaxRowsPerTable))
      ->type_name(flag_type_name(option));
}

CLI::Option* add_delimiter(CLI::App& cmd, char& delimiter) {
  const RunOption& option = run_option("delimiter");
  return cmd
      .add_option_function<std::string>(
          "--delimiter",
          [&delimiter, &option](const std::string& text) {
            delimiter = std::get<std::string>(option.parse_text(text)).front();
          },
          option.help)
      ->type_name(flag_type_name(option))
      ->default_str(option.default_text);
}

void add_schema_options(CLI::App& cmd, SchemaRequest& request) {
  const std::string group = "Columns of text data (default: Criteo's label, I1..I13, C1..C26)";
  cmd.add_flag("--header", request.header, "the first line of each text file names the columns")->group(group);
  cmd.add_option_function<std::string>(
         "--label", [&request](const std::string& name) { request.label = name; },
         "column of the 0/1 click label (required when the columns are stated)")
      ->type_name("NAME")
      ->group(group);
  cmd.add_option("--numeric", request.numeric,
                 "numeric columns, NAME or NAME:identity (decimal numbers kept as they are; default "
                 "log1p: integers x read as log(1 + max(x, 0)))")
      ->delimiter(',')
      ->type_name("NAMES")
      ->group(group);
  cmd.add_option("--categorical", request.categorical, "categorical columns (one id per line)")
      ->delimiter(',')
      ->type_name("NAMES")
      ->group(group);
  cmd.add_option("--multi-hot", request.multi_hot,
                 "categorical columns holding a list of ids split at SEP (one character, or comma / "
                 "space), cut to MAX_LENGTH ids (default 64), pooled by sum (default) or mean")
      ->delimiter(',')
      ->type_name("NAME:SEP[:MAX_LENGTH[:sum|mean]]")
      ->group(group);
  cmd.add_option("--ignore", request.ignore, "columns to skip")->delimiter(',')->type_name("NAMES")->group(group);
  cmd.add_flag_callback("--hex-ids", [&request] { request.hex_ids = true; },
                        "categorical values are hexadecimal ids (Criteo's form; the default only for "
                        "Criteo's layout, else values are strings hashed to 32 bits)")
      ->group(group);
  cmd.add_option("--schema", request.schema_file,
                 "JSON schema file stating every column (instead of the options above)")
      ->type_name("FILE.json")
      ->group(group);
}

FeatureSchema schema_for_paths(const SchemaRequest& request, const std::vector<std::string>& paths, char delimiter) {
  return schema_for_data(request, paths, delimiter);
}

OpeningFile print_reading_file(bool quiet) {
  return [quiet](size_t index, size_t count, const std::string& path) {
    if (quiet || count < 2) return;
    fmt::print(stderr, "reading {}/{}: {}\n", index + 1, count, path);
    std::fflush(stderr);
  };
}

}  // namespace shadowsync::cli
