// TrainConfig validation and its JSON form (written into checkpoints and metrics lines).
#include "shadowsync/train/train_config.hpp"

#include <algorithm>

#include "shadowsync/core/error.hpp"
#include "shadowsync/train/run_options.hpp"

namespace shadowsync {

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
  j["model"] = model.to_json();
  j["optimizer"] = {{"dense", optimizer.dense == DenseOptimizer::Sgd ? "sgd" : "adagrad"},
                    {"lr", optimizer.lr},
                    {"emb_lr", optimizer.emb_lr},
                    {"eps", optimizer.eps}};
  j["precision"] = precision_name(precision);
  j["embedding_precision"] = row_format_name(embedding_precision);
  if (embedding_precision != RowFormat::Fp32) j["embedding_rounding"] = row_rounding_name(embedding_rounding);
  j["sync"] = sync.name();
  j["topology"] = topology.empty() ? "this machine" : topology;
  j["groups"] = placement.groups == 0 ? nlohmann::json("auto") : nlohmann::json(placement.groups);
  j["threads_per_group"] = placement.threads_per_group == 0
                               ? nlohmann::json("auto")
                               : nlohmann::json(placement.threads_per_group);
  j["group_by"] = placement.group_by == numa::GroupBy::Socket ? "socket" : "numa";
  j["oversubscribe"] = placement.oversubscribe;
  j["batch"] = batch;
  j["epochs"] = epochs;
  j["seed"] = seed;
  j["sync_every"] = sync_every;
  j["sync_interval_ms"] = sync_interval_ms == kAutoSyncInterval ? nlohmann::json("auto") : nlohmann::json(sync_interval_ms);
  j["sync_round_iterations"] = sync_round_iterations;
  j["sync_threads"] = sync_threads == 0 ? nlohmann::json("per-group") : nlohmann::json(sync_threads);
  if (alpha) j["alpha"] = *alpha;
  if (block_momentum) j["block_momentum"] = *block_momentum;
  if (block_lr) j["block_lr"] = *block_lr;
  j["nesterov"] = nesterov;
  if (sync_warmup) j["sync_warmup"] = *sync_warmup;
  j["sync_optimizer_state"] = optimizer_state_sync_name(optimizer_state_sync());
  j["deterministic"] = deterministic;
  if (max_examples) j["max_examples"] = max_examples;
  if (!init_from.empty()) j["init_from"] = init_from;
  return j;
}

double TrainConfig::effective_sync_warmup(int groups) const {
  if (groups <= 1 || !sync.shadow()) return 0;
  if (sync_warmup) return *sync_warmup;
  return has_block_momentum(sync.rule) ? kDefaultSyncWarmup : kDefaultSyncWarmupAveraging;
}

OptimizerStateSync TrainConfig::optimizer_state_sync() const {
  if (sync_optimizer_state) return *sync_optimizer_state;
  return optimizer.dense == DenseOptimizer::Sgd ? OptimizerStateSync::None : kDefaultOptimizerStateSync;
}

uint64_t TrainConfig::default_eval_every(uint64_t train_rows, int epochs) {
  const uint64_t total = train_rows * static_cast<uint64_t>(std::max(epochs, 1));
  return std::max<uint64_t>(1, (total + kDefaultEvaluations - 1) / kDefaultEvaluations);
}

void TrainConfig::validate() const {
  // The ranges are the run option table's (run_options.cpp): one check, one message.
  check_in_range("batch", batch);
  check_in_range("epochs", epochs);
  check_in_range("sync_every", sync_every);
  if (sync_interval_ms != kAutoSyncInterval) check_in_range("sync_interval_ms", sync_interval_ms);
  check_in_range("sync_round_iterations", sync_round_iterations);
  check_in_range("sync_threads", sync_threads);
  check_in_range("lr", optimizer.lr);
  check_in_range("emb_lr", optimizer.emb_lr);
  if (alpha) check_in_range("alpha", *alpha);
  if (block_momentum) check_in_range("block_momentum", *block_momentum);
  if (block_lr) check_in_range("block_lr", *block_lr);
  if (sync_warmup) {
    check_in_range("sync_warmup", *sync_warmup);
    if (*sync_warmup > 0 && !sync.shadow()) {
      throw Error(field("sync_warmup") + " applies to the shadow modes (s-pa, s-ma, s-easgd, s-bmuf), not to " +
                  sync.name() + ": a foreground mode syncs every " + field("sync_every") +
                  " iterations from the start, none and hogwild have no rounds");
    }
  }
  if (sync_optimizer_state && *sync_optimizer_state != OptimizerStateSync::None &&
      optimizer.dense == DenseOptimizer::Sgd) {
    throw Error(field("sync_optimizer_state") + " " + optimizer_state_sync_name(*sync_optimizer_state) +
                ": the sgd dense optimizer keeps no optimizer state to synchronize (use " + field("optimizer") +
                " adagrad, or " + field("sync_optimizer_state") + " none)");
  }
  if (deterministic && (sync.shadow() || sync == SyncMethod::Hogwild)) {
    throw Error(field("deterministic") + ": mode " + sync.name() +
                " is nondeterministic by nature (background threads or shared replicas race with "
                "the workers); use none, fr-ma, fr-easgd, fr-bmuf or fr-pa");
  }
  if (!init_from.empty() && !resume_path.empty()) {
    throw Error(field("init_from") + " and " + field("resume") + " exclude each other: " + field("resume") +
                " finishes a run on its own data, " + field("init_from") + " starts a new run from a trained model");
  }
  require_precision_supported(precision);
  if (deterministic && placement.threads_per_group > 1) {
    throw Error(field("deterministic") + " needs " + field("threads_per_group") +
                " 1 (Hogwild workers of one group race)");
  }
}

}  // namespace shadowsync
