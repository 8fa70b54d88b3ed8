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

// SUBCOMMAND DECLARATIONS (one line each, keep sorted)
void add_convert_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_gen_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_stats_command(CLI::App& app);
void add_topo_command(CLI::App& app);
void add_train_command(CLI::App& app);

}  // namespace shadowsync::cli
