// What a training run reports while it runs and when it ends: progress, evaluations and the
// final summary (TrainReport, one struct for all three), and the run's result (TrainResult).
// to_json() is the object of one metrics line ("event" is "progress", "eval" or "final").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace shadowsync {

struct QualityReport {
  uint64_t examples = 0;
  double ne = 0, logloss = 0, auc = 0, calibration = 0;
};

// One group's share of the work so far.
struct GroupReport {
  uint64_t examples = 0;
  uint64_t iterations = 0;
  uint64_t syncs = 0;
  double examples_per_second = 0;
};

enum class ReportKind { Progress, Evaluation, Final };
// "progress", "eval", "final" (the metrics lines' "event").
const char* report_kind_name(ReportKind kind);

struct TrainReport {
  ReportKind kind = ReportKind::Progress;
  uint64_t examples = 0;
  uint64_t total_examples = 0;  // the run's target
  double elapsed_s = 0;         // training time (pauses for evaluation and checkpoints excluded)
  double wall_s = 0;            // wall time since run() started (not in to_json)
  double examples_per_second = 0;
  uint64_t sync_rounds = 0;
  double sync_rounds_per_second = 0;
  int sync_interval_ms = 0;        // shadow methods: the pacing in force (0 = back to back)
  // Shadow methods paced by progress: the target iterations of each group per round (0 = not
  // paced by progress); sync_gap is what was achieved.
  uint64_t sync_round_iterations = 0;
  // Shadow methods with a shared-replica warm-up: the examples it lasted (0 = none).
  uint64_t sync_warmup_examples = 0;
  std::optional<double> sync_gap;  // worker iterations of a group between two syncs of its replica
  double divergence = 0;           // relative L2 distance of the replicas to their mean
  double wait_share = 0;           // foreground methods: share of worker time spent at sync barriers
  double running_logloss = 0;      // training log loss since the previous report
  // running_logloss / entropy of the training rows' positive rate: the training NE since the
  // previous report (NaN when the training rows have one class: NE is undefined).
  double running_ne = 0;
  std::optional<QualityReport> eval;    // quality of the mean model on the evaluation data
  std::optional<QualityReport> center;  // s-easgd / fr-easgd: quality of the center copy
  std::vector<GroupReport> groups;

  nlohmann::json to_json() const;  // one metrics line (without the configuration)
};

struct TrainResult {
  TrainReport final_report;
  // The run ended before its data did: the stop token, or max_examples.
  bool stopped_early = false;
  // The stop token asked the run to stop: before the last batch (then stopped_early) or after
  // it, during the final evaluation or checkpoint (then stop_after_training: the run is
  // complete and its checkpoint written, but the caller may want to say the request came).
  bool stop_requested = false;
  bool stop_after_training = false;
  // Resumed from a checkpoint of a run that had already consumed its data (or reached
  // max_examples): nothing was trained, evaluated or written; final_report has the counts.
  bool already_finished = false;
  std::string checkpoint;  // the last checkpoint written ("" if none)
  // (examples trained, held-out NE) of every evaluation of this run, in order, the final one last.
  std::vector<std::pair<uint64_t, double>> evaluation_ne;
};

// Held-out NE that rose again in a run of several epochs: the evaluation with the lowest NE came
// a whole epoch or more before the end, and the final NE is above it by more than `tolerance`
// (relative). epoch is 1-based: the epoch in which the best evaluation fell.
struct NeRise {
  uint64_t best_examples = 0;
  double best_ne = 0;
  double final_ne = 0;
  int best_epoch = 0;
};
std::optional<NeRise> held_out_ne_rise(const TrainResult& result, uint64_t examples_per_epoch,
                                       double tolerance = 0.002);

}  // namespace shadowsync
