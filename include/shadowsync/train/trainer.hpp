// Trainer: the ShadowSync algorithm on one host. One trainer group per socket (from the NUMA
// plan), each with its own replica of the dense parameters on its node and T Hogwild worker
// threads; one shared set of embedding tables (the paper's embedding parameter servers) that
// every worker updates in place; and, depending on the sync mode, background shadow threads or
// foreground barriers that keep the replicas together. See docs/architecture.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/train/train_config.hpp"

namespace shadowsync {

struct QualityReport {
  uint64_t examples = 0;
  double ne = 0, logloss = 0, auc = 0, calibration = 0;
};

struct GroupProgress {
  uint64_t examples = 0;
  uint64_t iterations = 0;
  uint64_t syncs = 0;
  double examples_per_second = 0;
};

// One report: a progress line, an evaluation, or the final summary.
struct TrainReport {
  std::string event;  // "progress", "eval", "checkpoint", "final"
  uint64_t examples = 0;
  uint64_t total_examples = 0;  // the run's target
  double elapsed_s = 0;         // training time (pauses for evaluation and checkpoints excluded)
  double examples_per_second = 0;
  uint64_t sync_rounds = 0;
  double sync_rounds_per_second = 0;
  int sync_interval_ms = 0;        // shadow modes: the pacing in force (0 = back to back)
  std::optional<double> sync_gap;  // worker iterations of a group between two syncs of its replica
  double divergence = 0;           // relative L2 distance of the replicas to their mean
  double wait_share = 0;           // foreground modes: share of worker time spent at sync barriers
  double running_logloss = 0;      // training log loss since the previous report
  std::optional<QualityReport> eval;    // quality of the mean model on the evaluation data
  std::optional<QualityReport> center;  // s-easgd / fr-easgd: quality of the center copy
  std::vector<GroupProgress> groups;

  nlohmann::json to_json() const;  // the --metrics line (without the configuration)
};

struct TrainResult {
  TrainReport final_report;
  bool stopped_early = false;  // a signal or --max-examples ended the run before the data did
  int stop_signal = 0;         // the signal that stopped it (or arrived after training), if any
  // The signal arrived after the last batch (during the final evaluation or checkpoint): the
  // run is complete and its checkpoint written, but the caller should still report the signal.
  bool signal_after_training = false;
  int repeated_signals = 0;    // stop signals received after the first one (ignored)
  // Resumed from a checkpoint of a run that had already consumed its data (or reached
  // --max-examples): nothing was trained, evaluated or written; final_report has the counts.
  bool already_finished = false;
  std::string checkpoint;      // the last checkpoint written ("" if none)
};

class Trainer {
 public:
  // Builds the plan, allocates replicas and tables where the plan says, initializes them from
  // the seed or from config.resume_path. Throws Error for a bad configuration or checkpoint.
  Trainer(TrainConfig config, DataView train, DataView eval);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until the data is consumed (config.epochs passes over each group's share), a stop
  // signal arrives (SIGINT/SIGTERM, see stop_signals.hpp) or config.max_examples is reached.
  // Signals: the first stops every worker at its next batch (deterministic mode: at the next
  // turn-cycle boundary, so resuming is bit-identical), then the final evaluation runs and the
  // checkpoint is written; later signals are only counted (repeated_signals); a signal during
  // the final evaluation or checkpoint is reported in stop_signal with signal_after_training.
  // Errors: no thread outlives run(). Any failure (a worker's exception such as an allocation
  // failure, a shadow thread's, a checkpoint or --metrics write, an evaluation) stops the
  // workers, releases and joins them and the shadow threads, and is rethrown as Error; the last
  // good checkpoint is left in place (checkpoints are written atomically). A loss or model that
  // becomes NaN or infinite throws Error "training diverged ..." naming the example count.
  // Resuming a finished run returns at once with already_finished set.
  TrainResult run();

  // After run(): the final model, the mean of the replicas.
  const Model& model() const;
  const float* final_dense() const;
  const EmbeddingStore& embeddings() const;
  // The replicas as they are (1 for hogwild, G otherwise), for tests and divergence.
  std::vector<const float*> replicas() const;
  int groups() const;
  int threads_per_group() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shadowsync
