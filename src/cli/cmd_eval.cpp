// `shadowsync eval`: quality (NE, log loss, AUC, calibration) of a checkpoint's model on data.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "init_chain_text.hpp"
#include "common_options.hpp"
#include "quality_text.hpp"
#include "teacher_report.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/train/trained_model.hpp"

namespace shadowsync::cli {

void add_eval_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::vector<std::string> data;  // one or more files, evaluated together
    bool json = false;
    bool strict = false;
    char delimiter = '\t';
    SchemaRequest schema;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint's model on data (TSV or cache)");
  cmd->add_option("--checkpoint", options->checkpoint, "Checkpoint written by `train`")->required();
  cmd->add_option("--data", options->data, "Criteo TSV (plain, gzip or zstd; - = standard input) or binary cache, or several "
                  "(evaluated together); hashed as the checkpoint's model")->required();
  cmd->add_flag("--json", options->json, "Print the metrics as one JSON object");
  cmd->add_flag("--strict", options->strict, "Stop at the first bad input line instead of skipping it");
  add_delimiter(*cmd, options->delimiter);
  add_schema_options(*cmd, options->schema);
  cmd->callback([options] {
    const TrainedModel trained = TrainedModel::load(options->checkpoint);
    ParseOptions parse;
    parse.hashing = trained.hashing();
    // The checkpoint's schema; stated options must match it (and a cache's stored one).
    parse.schema = check_stated_schema(options->schema, trained.model().config().schema, options->checkpoint);
    parse.strict = options->strict;
    parse.delimiter = options->delimiter;
    ParseReport report;
    const Dataset data = Dataset::open_many(options->data, parse, &report);
    trained.check_data_schema(data.schema(), options->data.front());  // a cache stores its own
    if (!data.is_cache() && report.bad_lines > 0) std::fprintf(stderr, "%s\n", report.summary().c_str());
    const BinaryMetrics m = evaluate_model(trained.model(), trained.dense(), trained.embeddings(), data.parts());
    // Generated data (one file): the teacher's NE on the same rows.
    const std::optional<TeacherScore> teacher =
        options->data.size() == 1 ? teacher_on_rows(options->data[0], data.rows(), 0, data.view()) : std::nullopt;
    if (options->json) {
      nlohmann::json j = {{"examples", m.count()}, {"ne", m.ne()},       {"logloss", m.logloss()},
                          {"auc", m.auc()},        {"calibration", m.calibration()},
                          {"mean_label", m.mean_label()}, {"mean_prediction", m.mean_prediction()}};
      if (teacher) j["teacher"] = teacher_json(*teacher);
      if (!trained.init_chain().empty()) j["init_chain"] = init_chain_to_json(trained.init_chain());
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("examples %llu  %s\n", static_cast<unsigned long long>(m.count()),
                  quality_text(m.ne(), m.logloss(), m.auc(), m.calibration()).c_str());
      if (teacher) std::printf("%s\n", teacher_line(*teacher, m.ne()).c_str());
      // A model trained on from other checkpoints (train --init-from) says where it came from.
      if (!trained.init_chain().empty()) std::printf("started from: %s\n", init_chain_text(trained.init_chain()).c_str());
    }
  });
}

}  // namespace shadowsync::cli
