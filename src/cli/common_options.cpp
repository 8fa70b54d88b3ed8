// The options several commands share: --rows-per-table and --delimiter (read through the run
// option table, as `train` reads them), and the "reading i/N: FILE" progress callback.
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

OpeningFile print_reading_file(bool quiet) {
  return [quiet](size_t index, size_t count, const std::string& path) {
    if (quiet || count < 2) return;
    fmt::print(stderr, "reading {}/{}: {}\n", index + 1, count, path);
    std::fflush(stderr);
  };
}

}  // namespace shadowsync::cli
