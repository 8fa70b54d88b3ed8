// The flags of `shadowsync train`, made from the run option table
// (shadowsync/train/run_options.hpp): one flag per option the command line offers (those of
// the mpi front end included), spelled by flag_for_field, with the table's help and default.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "shadowsync/train/run_options.hpp"

namespace shadowsync::cli {

// Adds the flags to `cmd` in the table's order. Values are read through the table into
// `settings` (a bad value throws Error naming the field: "--batch expects an integer in
// [1, 1048576], got 0"); --data (required, one or more files) goes to `data_files`.
void add_run_option_flags(CLI::App& cmd, RunSettings& settings, std::vector<std::string>& data_files);

// The type part of a flag's help line: "INT in [1, 1048576]", "auto|INT", "socket|numa".
std::string flag_type_name(const RunOption& option);

}  // namespace shadowsync::cli
