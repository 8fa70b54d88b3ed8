// Registration functions of the `shadowsync` subcommands: each adds one CLI11 subcommand and
// its callback to the app. One subcommand per file (cmd_<name>.cpp).
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>

#include "shadowsync/data/hashing.hpp"

namespace shadowsync::cli {

// Thrown by a subcommand that has already said everything and must end the process with `code`
// (e.g. 130 after SIGINT stopped training); main() returns it.
struct ExitStatus {
  int code;
};

// Adds --rows-per-table with the one documented range of every command,
// [HashingConfig::kMinRowsPerTable, HashingConfig::kMaxRowsPerTable]: a value outside it (or not
// a number) is a usage error naming the option and the range, exit status 2.
inline CLI::Option* add_rows_per_table_option(CLI::App* cmd, std::optional<uint64_t>& rows,
                                              const std::string& description) {
  return cmd
      ->add_option("--rows-per-table", rows,
                   fmt::format("{} ({} to {})", description, HashingConfig::kMinRowsPerTable,
                               HashingConfig::kMaxRowsPerTable))
      ->check([](const std::string& value) {
        return value.starts_with('-') ? std::string("must be a non-negative integer")
                                      : std::string();
      })
      ->check(CLI::Range(uint64_t{HashingConfig::kMinRowsPerTable},
                         uint64_t{HashingConfig::kMaxRowsPerTable}));
}

// SUBCOMMAND DECLARATIONS (one line each, keep sorted)
void add_convert_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_gen_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_topo_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace shadowsync::cli
