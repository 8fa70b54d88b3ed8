// Coordinator: the loop on the thread that called Trainer::run(). It starts the workers and the
// run's background sync, watches progress, the stop token and divergence, parks everyone for evaluations and
// checkpoints, and ends the run: join, final evaluation, final checkpoint, final report.
//
// What it reads: the groups' counters at any time (relaxed atomics); every 100 ms a sample of
// the replicas for divergence (relaxed atomic loads of every 7th float); parameters, for
// evaluations and checkpoints, only while GroupRuntime::pause() holds every worker parked and
// the background sync is stopped. Whatever ends run() (return or exception), no thread outlives it.
//
// Warm-up (shadow modes): until parts.warmup_end every group trains replica 0 (its pointers in
// the GroupRuntime) and the background sync is not started; at every pause replica 0 is copied
// into the others, so evaluations, checkpoints and the final model see one model. Workers hold
// at warmup_end like at an evaluation; there the replicas split and the rounds start.
//
// Divergence: a NaN or infinite loss (seen by a worker), a NaN or infinite logit in an
// evaluation, a training loss above DivergenceWatch's limit over three windows in a row (checked
// every 20 ms), an evaluation or the last stretch of training above that limit, or a non-finite
// weight (checked before every checkpoint). Each stops the run with Error "training diverged ..."
// before a checkpoint of the diverged model is written, so the last good checkpoint is kept.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/sync_rule.hpp"
#include "shadowsync/train/train_observer.hpp"
#include "train/divergence_watch.hpp"
#include "train/group_runtime.hpp"
#include "train/run_sync.hpp"

namespace shadowsync::train {

struct CoordinatorParts {
  const TrainConfig& config;
  const Model& model;
  DataView eval;
  TrainState& state;
  GroupRuntime& runtime;
  RunSync& sync;  // started with the workers, stopped around every pause
  SyncRule* rule;  // nullptr without a rule; its center (EASGD) is evaluated too
  TrainObserver& observer;
  std::stop_token stop;
  // Writes the quiescent state as a checkpoint to the path (throws Error on failure).
  std::function<void(const std::string& path)> write_checkpoint;
  double train_positive_rate = 0;  // of the training rows: the divergence limit's scale
  // Shadow warm-up (TrainConfig::sync_warmup): until this many examples (over all groups) every
  // group trains replica 0 and no round runs; 0 = none.
  uint64_t warmup_end = 0;
  double warmup_share = 0;
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorParts parts);
  // Runs the whole training; the final model (mean of the replicas) ends in final_dense.
  TrainResult run(AlignedFloatBuffer& final_dense);

 private:
  using Clock = std::chrono::steady_clock;
  void with_workers_parked(const std::function<void()>& work);
  double training_seconds() const;
  double running_logloss();
  TrainReport make_report(ReportKind kind, double elapsed, double divergence);
  void evaluate_into(TrainReport& report, AlignedFloatBuffer& final_dense);
  QualityReport quality_on_eval(const float* dense) const;
  Error divergence_error(uint64_t examples) const;
  Error loss_divergence_error(uint64_t examples, double loss, uint64_t over) const;
  void check_not_diverged_before_saving();
  void write_checkpoint(const std::string& path);
  // Warm-up: replica 0 and its optimizer state copied into every other replica (parked).
  void publish_shared_replica();
  // Warm-up end (parked): every replica from the shared one, the groups on their own replicas,
  // the rule restarted from them; the background sync starts when the workers resume.
  void end_warmup();

  CoordinatorParts p_;
  Clock::time_point start_;
  double paused_seconds_ = 0;
  uint64_t examples_at_start_ = 0;  // resumed examples do not count in rates
  double loss_mark_ = 0;
  uint64_t examples_mark_ = 0;
  std::string last_checkpoint_;
  DivergenceWatch watch_;
  std::vector<std::pair<uint64_t, double>> evaluation_ne_;  // (examples, NE) of each evaluation
  bool warming_ = false;  // the groups train one shared replica; the background sync is not running
};

}  // namespace shadowsync::train
