// `shadowsync plot RUN.jsonl [MORE.jsonl...] -o curves.png`: training curves of runs' --metrics
// files (eval NE, training log loss, AUC, throughput against examples), drawn by gnuplot (see
// include/shadowsync/metrics/training_curves.hpp).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "shadowsync/metrics/training_curves.hpp"

namespace shadowsync::cli {

void add_plot_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    std::string out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw training curves (eval NE, training log loss, AUC, throughput) of --metrics files into a PNG");
  cmd->add_option("files", args->files, "metrics JSON-lines files of `shadowsync train --metrics` (one per run)")
      ->required();
  cmd->add_option("-o,--out", args->out, "output PNG file")->required();
  cmd->callback([args] {
    plot_training_curves(args->files, args->out);
    fmt::print("wrote {} ({} run{})\n", args->out, args->files.size(), args->files.size() == 1 ? "" : "s");
  });
}

}  // namespace shadowsync::cli
