// TrainReporter: what `shadowsync train` shows while the engine runs. It observes the engine
// (TrainObserver) and turns its reports into progress lines on stderr, evaluation, checkpoint
// and pacing lines, warnings, and the --metrics file.
#pragma once

#include <string>

#include "metrics_file.hpp"
#include "progress_printer.hpp"
#include "shadowsync/train/train_observer.hpp"

namespace shadowsync::cli {

class TrainReporter final : public TrainObserver {
 public:
  TrainReporter(double progress_seconds, bool quiet, MetricsFile metrics)
      : printer_(stderr, progress_seconds, quiet), metrics_(std::move(metrics)) {}

  double progress_interval_s() const override { return printer_.interval_s(); }
  void on_start() override { metrics_.open(); }
  void on_warning(const std::string& message) override;
  void on_pacing(const PacingReport& pacing) override;
  void on_warmup(const WarmupReport& warmup) override;
  void on_progress(const TrainReport& report) override;
  void on_evaluation(const TrainReport& report) override;
  void on_checkpoint(const CheckpointReport& checkpoint) override;
  void on_training_done() override { printer_.finish(); }
  void on_final(const TrainReport& report) override { metrics_.write(report); }
  // A line the run adds after its reports (across processes: every process's figures).
  void write_metrics_event(const nlohmann::json& event) { metrics_.write_event(event); }

 private:
  ProgressPrinter printer_;
  MetricsFile metrics_;
};

}  // namespace shadowsync::cli
