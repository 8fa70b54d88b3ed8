// The options several commands share: --rows-per-table (range checked by the data library),
// --delimiter (checked by the data library), and the "reading i/N: FILE" progress callback.
#include "common_options.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <optional>
#include <string>

#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::cli {

CLI::Option* add_rows_per_table(CLI::App& cmd, std::optional<uint64_t>& rows,
                                const std::string& description) {
  const CLI::Validator in_range(
      [](std::string& input) {
        uint64_t value = 0;
        const bool read = CLI::detail::lexical_cast(input, value);
        return rows_per_table_problem(read ? std::optional<uint64_t>(value) : std::nullopt, input);
      },
      fmt::format("UINT in [{} - {}]", HashingConfig::kMinRowsPerTable,
                  HashingConfig::kMaxRowsPerTable));
  return cmd
      .add_option("--rows-per-table", rows,
                  fmt::format("{} ({} to {})", description, HashingConfig::kMinRowsPerTable,
                              HashingConfig::kMaxRowsPerTable))
      ->check([](const std::string& value) {
        return value.starts_with('-') ? std::string("must be a non-negative integer")
                                      : std::string();
      })
      ->check(in_range);
}

namespace {
// The byte a --delimiter value stands for, or nullopt when it is not one byte.
std::optional<char> delimiter_byte(const std::string& value) {
  if (value == "tab" || value == "\\t") return '\t';
  if (value.size() != 1) return std::nullopt;
  return value.front();
}
}  // namespace

CLI::Option* add_delimiter(CLI::App& cmd, char& delimiter) {
  return cmd
      .add_option_function<std::string>(
          "--delimiter",
          [&delimiter](const std::string& value) { delimiter = *delimiter_byte(value); },
          "byte between the fields of text input: tab (the default; also 'tab' or '\\t') or ',' "
          "for CSV")
      ->check([](const std::string& value) {
        const std::optional<char> byte = delimiter_byte(value);
        if (!byte) {
          return fmt::format("'{}' is not one byte (a tab, the default, or ',' for CSV)", value);
        }
        return delimiter_problem(*byte);
      });
}

OpeningFile print_reading_file(bool quiet) {
  return [quiet](size_t index, size_t count, const std::string& path) {
    if (quiet || count < 2) return;
    fmt::print(stderr, "reading {}/{}: {}\n", index + 1, count, path);
    std::fflush(stderr);
  };
}

}  // namespace shadowsync::cli
