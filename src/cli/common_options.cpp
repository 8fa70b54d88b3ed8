// add_rows_per_table: the one declaration of --rows-per-table (range checked by the data library).
#include "common_options.hpp"

#include <fmt/format.h>

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

}  // namespace shadowsync::cli
