// `shadowsync predict`: one click probability per data line, in input order, to standard output
// (default, or --out -) or to --out FILE (a regular file replaced atomically; a FIFO or device
// written through; a symbolic link written through to its target). Status goes to stderr.
// Row alignment: a bad line is refused (naming file and line), or with --bad-rows nan gets "nan"
// in its place; never fewer lines out than data lines in (docs/data.md, "Predictions").
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "common_options.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/train/trained_model.hpp"

namespace shadowsync::cli {

void add_predict_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::vector<std::string> data;  // one or more files, predicted in order
    std::string out = "-";
    char delimiter = '\t';
    std::string bad_rows = "refuse";
    SchemaRequest schema;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("predict", "Write one click probability per input line, in input order");
  cmd->add_option("--checkpoint", options->checkpoint, "Checkpoint written by `train`")->required();
  cmd->add_option("--data", options->data, "Criteo TSV (labels are read but not used; plain, gzip or zstd; - = standard input) "
                  "or binary cache, or several (one probability per line of each, in order)")->required();
  cmd->add_option("--out", options->out,
                  "Output: one probability per line; '-' (default) = standard output; a regular "
                  "file is replaced atomically, a FIFO or device written through")
      ->capture_default_str();
  add_delimiter(*cmd, options->delimiter);
  add_schema_options(*cmd, options->schema);
  cmd->add_option("--bad-rows", options->bad_rows,
                  "What a bad input line gives: refuse (default: stop, naming the file and line) "
                  "or nan (a 'nan' line in its place, so output lines still match input lines)")
      ->check(CLI::IsMember({"refuse", "nan"}))
      ->capture_default_str();
  cmd->callback([options] {
    if (options->out.empty()) throw Error("--out must not be empty (use - for standard output)");
    std::vector<std::pair<std::string_view, std::string>> inputs = {{"--checkpoint", options->checkpoint}};
    for (const std::string& d : options->data) inputs.emplace_back("--data", d);
    refuse_output_over_input("--out", options->out, inputs);
    const TrainedModel trained = TrainedModel::load(options->checkpoint);
    ParseOptions parse;
    parse.hashing = trained.hashing();
    // The checkpoint's schema; stated options must match it (and a cache's stored one).
    parse.schema = check_stated_schema(options->schema, trained.model().config().schema, options->checkpoint);
    // A skipped line would shift every later probability onto the wrong line: refuse the first
    // bad line (strict), or keep a placeholder row for it and give it NaN.
    const bool nan_rows = options->bad_rows == "nan";
    parse.strict = !nan_rows;
    parse.keep_bad_lines = nan_rows;
    parse.delimiter = options->delimiter;
    ParseReport report;
    const Dataset data = Dataset::open_many(options->data, parse, &report);
    trained.check_data_schema(data.schema(), options->data.front());  // a cache stores its own
    std::vector<float> logits =
        predict_all_logits(trained.model(), trained.dense(), trained.embeddings(), data.parts());
    for (const uint64_t row : report.bad_rows) logits.at(row) = std::numeric_limits<float>::quiet_NaN();
    if (!report.bad_rows.empty()) {
      std::fprintf(stderr, "%zu bad lines given nan (first: %s)\n", report.bad_rows.size(),
                   report.first_errors.empty() ? "?" : report.first_errors.front().c_str());
    }
    for (const std::string& w : report.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    const std::unique_ptr<OutputFile> out = OutputFile::open(options->out);
    std::string text;
    text.reserve(size_t{1} << 20);
    for (float z : logits) {
      if (std::isnan(z)) {
        text += "nan\n";  // a bad line (--bad-rows nan)
      } else {
        fmt::format_to(std::back_inserter(text), "{:.6f}\n", 1.0 / (1.0 + std::exp(-static_cast<double>(z))));
      }
      if (text.size() >= (size_t{1} << 20)) {
        out->write(text);
        text.clear();
      }
    }
    out->write(text);
    out->commit();
    std::fprintf(stderr, "wrote %zu probabilities to %s\n", logits.size(), out->name().c_str());
  });
}

}  // namespace shadowsync::cli
