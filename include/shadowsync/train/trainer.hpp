// Trainer: the ShadowSync engine. One trainer group per socket (from the NUMA plan), each with
// its own replica of the dense parameters on its node and T Hogwild worker threads; one shared
// set of embedding tables (the paper's embedding parameter servers) that every worker updates in
// place; and the sync method's schedule (background shadow threads, foreground barriers, or
// none) keeping the replicas together. See docs/architecture.md.
//
// The engine is a library: it takes a configuration, data views, a placement plan (or plans from
// a topology), an observer and a stop token; it never prints, never installs signal handlers and
// never invents file names. Front ends (the CLI, the Python package) own all of that.
#pragma once

#include <memory>
#include <optional>
#include <stop_token>
#include <vector>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/train/background_participant.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/train_config.hpp"
#include "shadowsync/train/train_observer.hpp"
#include "shadowsync/train/train_report.hpp"

namespace shadowsync {

struct TrainerSetup {
  // Where the groups run. Empty: planned from config.topology and config.placement.
  std::optional<numa::Plan> plan;
  // Receives reports and warnings (nullptr: nobody listens). Must outlive run().
  TrainObserver* observer = nullptr;
  // A stop request stops every worker at its next batch (in deterministic mode at the next
  // turn-cycle boundary, so resuming is bit-identical); the final evaluation and checkpoint then
  // run. A request after the last batch is reported in TrainResult::stop_after_training.
  std::stop_token stop;
  // Runs beside the sync schedule (background_participant.hpp), e.g. the inter-host sync of a
  // run split across processes; nullptr: none. Must outlive run().
  BackgroundParticipant* participant = nullptr;
};

class Trainer {
 public:
  // Plans (unless setup.plan), allocates replicas and tables where the plan says, initializes
  // them from the seed or from config.resume_path. Throws Error for a bad configuration or
  // checkpoint (naming the field or the file), or when the run cannot fit in memory.
  // `train` is one view or the parts of several files, read in order as one sequence of rows
  // (nothing is copied; a batch that crosses from one part into the next is copied into the
  // worker's own block, so it holds the rows it would hold in the parts' concatenation, and
  // the checkpoint's data fingerprint is that of the concatenation too). The memory behind
  // `train` and `eval` must outlive the Trainer.
  Trainer(TrainConfig config, DataParts train, DataView eval, TrainerSetup setup = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains until the data is consumed (config.epochs passes over each group's share), the stop
  // token is triggered or config.max_examples is reached; then evaluates the mean model on the
  // evaluation rows and writes the final checkpoint (config.checkpoint_path, or
  // config.stop_checkpoint_path when stopped by the token).
  // Errors: no thread outlives run(). Any failure (a worker's exception such as an allocation
  // failure, a shadow thread's, a checkpoint write, an observer's, an evaluation) stops the
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
  const numa::Plan& plan() const;
  int groups() const;
  int threads_per_group() const;
  // The checkpoints this run's model started from (config.init_from, or a resumed run's), oldest
  // first; what its checkpoints record as "init_chain".
  const std::vector<InitOrigin>& init_chain() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shadowsync
