// Registration functions of the `shadowsync` subcommands: each adds one CLI11 subcommand and
// its callback to the app. One subcommand per file (cmd_<name>.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace shadowsync::cli {

// SUBCOMMAND DECLARATIONS (one line each, keep sorted)

}  // namespace shadowsync::cli
