// TrainConfig: everything one training run is made of (front ends fill it from their options:
// the CLI's `shadowsync train` flags, the Python package's keyword arguments). Kept in
// checkpoints and in every metrics line (to_json), so a number can always be traced back to the
// run that made it. Field names in errors are the snake_case option names (see core/error.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "shadowsync/model/model_config.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/model/optimizer.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/precision.hpp"
#include "shadowsync/sync/sync_method.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

struct TrainConfig {
  ModelConfig model;
  OptimizerConfig optimizer;
  // Number format of the workers' GEMMs (precision.hpp); bf16 is checked against this machine by
  // validate(). Weights, optimizer state, checkpoints and evaluation stay fp32 either way.
  Precision precision = Precision::Fp32;
  // Number format of the embedding tables' rows (embedding_store.hpp): fp32, or bf16 (half the
  // bytes; row-wise Adagrad in fp32, written back rounded by embedding_rounding).
  RowFormat embedding_precision = RowFormat::Fp32;
  RowRounding embedding_rounding = RowRounding::Stochastic;
  SyncMethod sync = SyncMethod::ShadowPA;  // docs/sync.md: why progress-preserving averaging

  // Where the groups run: a topology to plan from ("" = this machine; an hwloc synthetic
  // description or XML file) and the placement options. Ignored when the engine is given a plan.
  std::string topology;
  numa::PlacementOptions placement;

  static constexpr int kMaxBatch = 1 << 20;  // largest batch accepted
  int batch = 128;          // examples per worker step, in [1, kMaxBatch]
  int epochs = 1;           // passes over each group's share of the training data
  uint64_t seed = 1;        // initialization (and nothing else: data order is file order)

  // Foreground modes: every worker syncs after each `sync_every` of its own iterations, so a
  // group's sync gap is sync_every x threads-per-group iterations.
  int sync_every = 10;
  // Shadow modes: time from the start of one round to the start of the next. 0 = continuous,
  // as in the paper, where the shadow thread has a core of its own. kAutoSyncInterval (the
  // default): continuous when every group's shadow thread has a spare processing unit in the
  // plan; when it must share a worker's core, paced by training progress (sync_round_iterations).
  // Decided once per run from the plan (src/train/sync_pacing.cpp); no round is timed.
  static constexpr int kAutoSyncInterval = -1;
  int sync_interval_ms = kAutoSyncInterval;
  // Shadow modes, sync_interval_ms auto, shadow thread sharing a worker's core: the pacing target
  // in training progress, one round per this many iterations of each group (a sync gap the same
  // for every rule, whatever a round costs or the machine's load). See docs/sync.md.
  int sync_round_iterations = 4;
  // Shadow modes: background threads per round (1 = one thread does whole rounds; 0 = one per
  // group, each doing its slice). See docs/architecture.md for why the default is what it is.
  int sync_threads = 1;
  // Overrides of the rule defaults (alpha = 0.9/G, eta = 1 - 1/G, zeta = 1, Nesterov).
  std::optional<float> alpha;
  std::optional<float> block_momentum;
  std::optional<float> block_lr;
  bool nesterov = true;
  // Shadow modes: the share of the run's training examples (epochs x training rows) during which
  // every group trains one shared replica (Hogwild across the groups, as in `hogwild`) before the
  // groups split into their own replicas and the shadow rounds start (post-local SGD's warm-up;
  // docs/sync.md: why and how long). Unset, for shadow modes with more than one group:
  // kDefaultSyncWarmup for the rules with block momentum (pa, bmuf), kDefaultSyncWarmupAveraging
  // for those without (ma, easgd: nothing gives back the progress averaging divides after the
  // split, so they share longer); 0 otherwise. Range [0, 1); only shadow modes accept a value
  // above 0.
  static constexpr double kDefaultSyncWarmup = 0.25;
  static constexpr double kDefaultSyncWarmupAveraging = 0.5;
  std::optional<double> sync_warmup;
  // The warm-up in force: sync_warmup, or its default for this mode (0 for one group).
  double effective_sync_warmup(int groups) const;
  // How sync rounds combine the replicas' dense optimizer state (sync_rule.hpp: none, sum,
  // mean); unset = kDefaultOptimizerStateSync. Setting sum or mean with the sgd optimizer (no
  // state) is refused by validate().
  std::optional<OptimizerStateSync> sync_optimizer_state;
  // The setting the run uses: the one asked for, else kDefaultOptimizerStateSync when the dense
  // optimizer keeps state, else none.
  OptimizerStateSync optimizer_state_sync() const;

  // Evaluate at start + k x eval_every examples, k = 1, 2, ...: workers hold there, so each point is
  // taken at the first batch boundary at or past it (within one batch per worker), never skipped;
  // none at the run's end, whose final report evaluates anyway (0 = only at the end).
  uint64_t eval_every = 0;
  // What front ends choose when a held-out fraction is asked for without eval_every: about
  // kDefaultEvaluations evaluations along the run (a training curve), the final one included.
  static constexpr uint64_t kDefaultEvaluations = 8;
  static uint64_t default_eval_every(uint64_t train_rows, int epochs);
  uint64_t checkpoint_every = 0;  // checkpoint likewise at start + k x checkpoint_every (0 = only at the end)
  std::string checkpoint_path;    // where checkpoints go ("" = none, but see stop_checkpoint_path)
  // Where a run stopped early by its stop token writes its checkpoint when checkpoint_path is
  // empty ("" = nowhere). The CLI sets shadowsync-interrupted.ckpt.
  std::string stop_checkpoint_path;
  // A run stopped early by its stop token evaluates before writing its checkpoint (false: it
  // writes the checkpoint at once and its final report has no evaluation; under mpirun the
  // launcher kills every process soon after the stop signal, so the checkpoint comes first).
  bool evaluate_on_stop = true;
  std::string resume_path;        // checkpoint to continue from
  // A trained model to start from (the next day's training): every replica from the
  // checkpoint's mean replica and mean dense optimizer state, the embedding tables and their
  // accumulators as they are; examples, epochs and progress start anew. The checkpoint must have
  // this run's schema, hashing and model (and dense optimizer); its chain of origins is carried
  // into this run's checkpoints (init_chain.hpp). Excludes resume_path. "" = from the seed.
  std::string init_from;
  bool deterministic = false;     // bit-identical results for a seed (none / fr-* only)
  uint64_t max_examples = 0;      // stop (with a checkpoint) after about this many examples

  nlohmann::json to_json() const;
  // Throws Error naming the field for an out-of-range value or an inconsistent combination
  // (e.g. deterministic with a shadow method, batch 0).
  void validate() const;
};

}  // namespace shadowsync
