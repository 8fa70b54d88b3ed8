// TrainObserver: how a front end hears what a training run is doing, as structs. The engine
// never prints: the CLI turns these calls into progress lines and its metrics file, the Python
// package into callbacks.
//
// Contract: every call but on_warning comes from the thread that called Trainer::run(), in run
// order. An
// exception thrown by an observer stops the run like any other failure (workers joined, the last
// good checkpoint kept, the exception rethrown by run() as Error when it is one).
#pragma once

#include <cstdint>
#include <string>

#include "shadowsync/train/train_report.hpp"

namespace shadowsync {

// Shadow methods whose background thread has no processing unit of its own (sync_interval_ms
// auto) are paced by training progress: one round per round_iterations iterations of each group,
// i.e. per examples_per_round examples trained over all groups.
struct PacingReport {
  int round_iterations = 0;
  uint64_t examples_per_round = 0;
};

// What a front end says when a run's rounds are paced by training progress (fields marked).
std::string pacing_message(const PacingReport& pacing);

// A shadow run's shared-replica warm-up: the groups train one replica until `until_examples`
// (over all groups), then split into their own replicas and the shadow rounds start.
struct WarmupReport {
  uint64_t until_examples = 0;
  double share = 0;  // of the run's training examples
};
std::string warmup_message(const WarmupReport& warmup);

struct CheckpointReport {
  std::string path;
  uint64_t examples = 0;
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;

  // Wall seconds between two progress reports (0 = no progress reports). Asked once, when the
  // run starts; the first report comes one interval after the start.
  virtual double progress_interval_s() const { return 0; }

  // Training is about to start (not called when a resumed run has nothing left to do).
  virtual void on_start() {}
  // E.g. the placement cannot be bound on this machine. May come from any thread.
  virtual void on_warning(const std::string& /*message*/) {}
  virtual void on_pacing(const PacingReport& /*pacing*/) {}
  // Before training, when the run starts (or resumes) inside a shared-replica warm-up.
  virtual void on_warmup(const WarmupReport& /*warmup*/) {}
  virtual void on_progress(const TrainReport& /*report*/) {}
  virtual void on_evaluation(const TrainReport& /*report*/) {}  // eval_every
  virtual void on_checkpoint(const CheckpointReport& /*checkpoint*/) {}  // checkpoint_every
  // The last batch is done (or the run stopped); the final evaluation and checkpoint follow.
  virtual void on_training_done() {}
  // The final report, after the final checkpoint is written.
  virtual void on_final(const TrainReport& /*report*/) {}
};

}  // namespace shadowsync
