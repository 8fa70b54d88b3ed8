// TrainReporter: the engine's reports as terminal lines and metrics lines (see train_reporter.hpp).
#include "train_reporter.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "flag_names.hpp"
#include "quality_text.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {

void TrainReporter::on_warning(const std::string& message) {
  std::fprintf(stderr, "shadowsync: warning: %s\n", message.c_str());
  std::fflush(stderr);
}

void TrainReporter::on_pacing(const PacingReport& pacing) {
  // The final summary says what was achieved (the sync gap).
  printer_.print_line(spell_fields(pacing_message(pacing), flag_for_field));
}

void TrainReporter::on_warmup(const WarmupReport& warmup) {
  printer_.print_line(spell_fields(warmup_message(warmup), flag_for_field));
}

void TrainReporter::on_progress(const TrainReport& report) {
  printer_.print(report, report.wall_s);
  metrics_.write(report);
}

void TrainReporter::on_evaluation(const TrainReport& report) {
  printer_.print_line(fmt::format("eval at {} examples: {}", report.examples,
                                  quality_text(report.eval->ne, report.eval->logloss, report.eval->auc,
                                               report.eval->calibration)));
  metrics_.write(report);
}

void TrainReporter::on_checkpoint(const CheckpointReport& checkpoint) {
  printer_.print_line(fmt::format("checkpoint at {} examples: {}", checkpoint.examples, checkpoint.path));
}

}  // namespace shadowsync::cli
