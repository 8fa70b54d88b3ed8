// Entry point of the `shadowsync` tool: builds the CLI11 app from the subcommand registrations
// and turns shadowsync::Error (bad input, bad options; configuration fields spelled as flags) and
// every CLI11 usage error into a message and exit code 2 (--help and --version exit 0).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "flag_names.hpp"
#include "shadowsync/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"shadowsync: ShadowSync training of CTR models on one multi-socket host"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "shadowsync 0.1.0");

  // SUBCOMMAND REGISTRATIONS (one line each, keep sorted)
  shadowsync::cli::add_convert_command(app);
  shadowsync::cli::add_eval_command(app);
  shadowsync::cli::add_export_command(app);
  shadowsync::cli::add_gen_command(app);
  shadowsync::cli::add_plot_command(app);
  shadowsync::cli::add_predict_command(app);
  shadowsync::cli::add_stats_command(app);
  shadowsync::cli::add_topo_command(app);
  shadowsync::cli::add_train_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help / --version (exit code 0) print as CLI11 does; every usage error (unknown option,
    // missing or invalid value, ...) is printed by CLI11 too, but exits 2 like our own errors.
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const shadowsync::cli::ExitStatus& status) {
    return status.code;
  } catch (const shadowsync::Error& e) {
    std::fprintf(stderr, "shadowsync: error: %s\n", e.message(shadowsync::cli::flag_for_field).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shadowsync: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
