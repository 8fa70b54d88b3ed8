// `shadowsync predict`: one click probability per input line, in input order.
#include <cmath>
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "shadowsync/dataset.hpp"
#include "shadowsync/error.hpp"
#include "shadowsync/evaluate.hpp"
#include "shadowsync/trained_model.hpp"

namespace shadowsync::cli {

void add_predict_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::string data;
    std::string out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("predict", "Write one click probability per input line, in input order");
  cmd->add_option("--checkpoint", options->checkpoint, "Checkpoint written by `train`")->required();
  cmd->add_option("--data", options->data, "Criteo TSV (labels are read but not used) or binary cache")->required();
  cmd->add_option("--out", options->out, "Output file: one probability per line")->required();
  cmd->callback([options] {
    const TrainedModel trained = TrainedModel::load(options->checkpoint);
    ParseOptions parse;
    parse.hashing = trained.hashing();
    // Strict: a skipped line would shift every later probability onto the wrong line.
    parse.strict = true;
    const Dataset data = Dataset::open(options->data, parse);
    const std::vector<float> logits =
        predict_all_logits(trained.model(), trained.dense(), trained.embeddings(), data.view());
    const std::string temp = options->out + ".tmp";
    std::FILE* out = std::fopen(temp.c_str(), "w");
    if (out == nullptr) throw Error("--out: cannot write '" + options->out + "'");
    for (float z : logits) std::fprintf(out, "%.6f\n", 1.0 / (1.0 + std::exp(-static_cast<double>(z))));
    const bool ok = std::fflush(out) == 0 && std::ferror(out) == 0;
    std::fclose(out);
    if (!ok || std::rename(temp.c_str(), options->out.c_str()) != 0) {
      std::remove(temp.c_str());
      throw Error("--out: writing '" + options->out + "' failed");
    }
    std::fprintf(stderr, "wrote %zu probabilities to %s\n", logits.size(), options->out.c_str());
  });
}

}  // namespace shadowsync::cli
