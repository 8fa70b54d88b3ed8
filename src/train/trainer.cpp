// Trainer: builds a run (plan, binder, state, sync rule, the run's sync, group runtime) and hands
// it to the Coordinator. Everything a run does while it runs is in group_runtime.cpp (workers)
// and coordinator.cpp (the loop); the checkpoint header in checkpoint_header.cpp; the state and
// its sections in train_state.cpp.
#include "shadowsync/train/trainer.hpp"

#include <cmath>
#include <new>
#include <string_view>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/numa/binder.hpp"
#include "shadowsync/sync/sync_rule.hpp"
#include "shadowsync/train/train_state.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_header.hpp"
#include "train/coordinator.hpp"
#include "train/data_widths.hpp"
#include "train/group_runtime.hpp"
#include "train/init_from.hpp"
#include "train/memory_check.hpp"
#include "train/replica_math.hpp"
#include "train/run_sync.hpp"
#include "train/sync_pacing.hpp"

namespace shadowsync {
namespace {

double positive_rate(const DataParts& rows) {
  double positives = 0;
  for (const DataView& part : rows.parts()) {
    for (size_t i = 0; i < part.rows; ++i) positives += part.labels[i];
  }
  return rows.rows() > 0 ? positives / static_cast<double>(rows.rows()) : 0;
}

}  // namespace

class Trainer::Impl {
 public:
  Impl(TrainConfig config, DataParts train, DataView eval, TrainerSetup setup);
  TrainResult run();

  TrainConfig config_;
  DataParts train_;
  DataView eval_;
  TrainerSetup setup_;
  numa::Topology topology_;
  numa::Plan plan_;
  Model model_;
  int groups_ = 0;
  int threads_ = 0;
  std::unique_ptr<CheckpointLock> checkpoint_lock_;  // held for the run when checkpoint_path is set
  std::unique_ptr<numa::Binder> binder_;
  std::unique_ptr<TrainState> state_;
  std::unique_ptr<SyncRule> rule_;
  std::vector<train::GroupShare> shares_;
  std::unique_ptr<AlignedFloatBuffer> final_dense_;
  std::string train_fingerprint_;  // data_fingerprint(train_), computed once
  std::unique_ptr<TouchedRows> touched_rows_;  // with a participant only
  double positive_rate_ = 0;  // of the training rows (the divergence limit's scale)
  std::vector<InitOrigin> init_chain_;  // the checkpoints this run's model started from

 private:
  const std::string& train_fingerprint() {
    if (train_fingerprint_.empty()) train_fingerprint_ = data_fingerprint(train_);
    return train_fingerprint_;
  }
  SyncParams sync_params() const;
  void restore(const std::string& path);
};

Trainer::Impl::Impl(TrainConfig config, DataParts train, DataView eval, TrainerSetup setup)
    : config_(std::move(config)),
      train_(std::move(train)),
      eval_(eval),
      setup_(std::move(setup)),
      topology_(numa::Topology::load(setup_.plan ? setup_.plan->topology_spec : config_.topology)),
      plan_(setup_.plan ? *setup_.plan : numa::make_plan(topology_, config_.placement)),
      model_(config_.model) {
  config_.validate();
  if (setup_.participant != nullptr && config_.sync_warmup && *config_.sync_warmup > 0) {
    throw Error(field("sync_warmup") + " is not available when several processes train one model: their rounds "
                "between processes combine every replica from the start (pass 0, the default there)");
  }
  // A trained model to start from: opened and checked against this run's model first (its schema
  // before the data's widths, so another schema is named by its first differing column).
  std::unique_ptr<train::InitSource> init_source;
  if (!config_.init_from.empty()) init_source = std::make_unique<train::InitSource>(config_);
  // The model is built for the data's schema: rows of another shape are refused here, not read.
  train::check_data_widths(config_.model, train_, field("data"));
  train::check_data_widths(config_.model, DataParts(eval_), field("eval_data"));
  // The checkpoint started from is an input: the run's checkpoints must not replace it.
  if (!config_.init_from.empty() && !config_.checkpoint_path.empty()) {
    const std::string output = field("checkpoint"), input = field("init_from");
    refuse_output_over_input(output, config_.checkpoint_path, {{input, config_.init_from}});
  }
  // One training run per checkpoint path: a second one given the same path is refused.
  if (!config_.checkpoint_path.empty()) checkpoint_lock_ = std::make_unique<CheckpointLock>(config_.checkpoint_path);
  groups_ = static_cast<int>(plan_.groups.size());
  threads_ = plan_.threads_per_group;
  // The warm-up in force, written to checkpoints and metrics (a resumed run without the option
  // takes its checkpoint's, in restore()). Several processes: none.
  if (config_.resume_path.empty() && !config_.sync_warmup) {
    config_.sync_warmup = setup_.participant != nullptr ? 0.0 : config_.effective_sync_warmup(groups_);
  }
  if (config_.deterministic && threads_ != 1) {
    throw Error(field("deterministic") + " needs one worker per group; the plan has " + std::to_string(threads_) +
                " (pass " + field("threads_per_group") + " 1)");
  }
  if (train_.rows() < static_cast<size_t>(groups_)) {
    throw Error(field("data") + ": " + std::to_string(train_.rows()) + " training rows cannot be split over " +
                std::to_string(groups_) + " groups");
  }
  const int replicas = config_.sync.replicas(groups_);
  train::check_memory_fits(model_, static_cast<uint64_t>(replicas), static_cast<uint64_t>(groups_ * threads_),
                           config_.batch, config_.embedding_precision, config_.precision);
  // The binder's warning (placement cannot be bound here) goes to the observer.
  TrainObserver* observer = setup_.observer;
  binder_ = std::make_unique<numa::Binder>(topology_, plan_, [observer](std::string_view message) {
    if (observer != nullptr) observer->on_warning(std::string(message));
  });
  // A group's replica and optimizer state live on its node; the one shared replica of hogwild is
  // interleaved over every node in use, like the embedding tables.
  const bool shared = config_.sync.schedule == SyncScheduleKind::SharedReplica;
  try {
    state_ = std::make_unique<TrainState>(
        model_, replicas, TrainState::Parts::Everything,
        [&](int r) -> MemoryResource& { return shared ? binder_->interleaved_memory() : binder_->node_memory(r); },
        binder_->interleaved_memory(), config_.embedding_precision);
    state_->embeddings().set_rounding(config_.embedding_rounding);
  } catch (const std::bad_alloc&) {
    throw Error("not enough memory for the replicas and embedding tables (" + field("rows_per_table") + ", " +
                field("model") + ", " + field("groups") + ")");
  }
  shares_ = train::split_into_shares(train_, groups_, config_.batch, config_.epochs);
  positive_rate_ = positive_rate(train_);
  for (int g = 0; g < groups_; ++g) {
    const int r = replicas == 1 ? 0 : g;
    shares_[static_cast<size_t>(g)].replica = state_->replica(r);
    shares_[static_cast<size_t>(g)].optimizer_state = state_->optimizer_state(r);
  }
  state_->initialize(model_, config_.seed);  // every replica from the same point, as in the paper
  // A trained model's weights, tables and optimizer state instead (before the sync rule takes
  // its starting point from the replicas).
  if (init_source) init_chain_ = init_source->load_into(*state_);
  if (config_.sync.uses_rule()) {
    const SyncParams params = sync_params();
    std::vector<float*> states;  // the optimizer state, when rounds combine it
    if (params.optimizer_state_sync != OptimizerStateSync::None) states = state_->optimizer_state_pointers();
    rule_ = std::make_unique<SyncRule>(params, state_->replica_pointers(), state_->dense_floats(),
                                       binder_->node_memory(0), std::move(states));
    state_->set_sync_state(rule_->state_buffers());
  }
  state_->progress.assign(static_cast<size_t>(groups_), GroupProgressState{});
  if (!config_.resume_path.empty()) restore(config_.resume_path);
}

SyncParams Trainer::Impl::sync_params() const {
  SyncParams params = SyncParams::defaults(config_.sync.rule, groups_);
  if (config_.alpha) params.alpha = *config_.alpha;
  if (config_.block_momentum) params.block_momentum = *config_.block_momentum;
  if (config_.block_lr) params.block_lr = *config_.block_lr;
  params.nesterov = config_.nesterov;
  params.optimizer_state_sync = config_.optimizer_state_sync();
  return params;
}

// Everything in the checkpoint is validated before any state of this run is read into; every
// message names the checkpoint and the field.
void Trainer::Impl::restore(const std::string& path) {
  const std::string where = field("resume") + " '" + path + "'";
  CheckpointReader reader(path);
  reader.refuse_unknown_sections(kTrainerCheckpointSections);
  const nlohmann::json header = reader.json("header");
  std::vector<GroupProgressState> progress = train::check_resume_header(
      header, config_, shares_, state_->replica_count(), state_->dense_floats(), train_.rows(), eval_.rows,
      [this]() -> const std::string& { return train_fingerprint(); }, where);
  // The warm-up ends at a point of the run: resuming with another one would change the run.
  const double saved_warmup = train::checkpoint_sync_warmup(header, where);
  if (!config_.sync_warmup) {
    config_.sync_warmup = saved_warmup;
  } else if (*config_.sync_warmup != saved_warmup && groups_ > 1 && config_.sync.shadow()) {
    throw Error(fmt::format("{}: checkpoint was trained with {} {:g}, asked for {:g} (resume with the same {}, or "
                            "leave it out)",
                            where, field("sync_warmup"), saved_warmup, *config_.sync_warmup, field("sync_warmup")));
  }
  state_->load(reader, where, field("sync") + " " + config_.sync.name());
  state_->progress = std::move(progress);
  init_chain_ = init_chain_from_header(header, where);  // a resumed run keeps where its model came from
}

TrainResult Trainer::Impl::run() {
  TrainObserver nobody;
  TrainObserver& observer = setup_.observer != nullptr ? *setup_.observer : nobody;
  train::GroupRuntime runtime(config_, model_, state_->embeddings(), shares_, state_->progress, threads_, *binder_);
  // A participant learns which embedding rows the workers updated (no whole-table scans).
  if (setup_.participant != nullptr) {
    if (!touched_rows_) touched_rows_ = std::make_unique<TouchedRows>(state_->embeddings());
    runtime.set_touched_rows(touched_rows_.get());
  }
  auto write_checkpoint = [&](const std::string& path) {
    state_->progress = runtime.progress();
    const train::DataIdentity data{train_.rows(), eval_.rows, train_fingerprint()};
    state_->save(path, train::make_checkpoint_header(config_, groups_, *state_, data, init_chain_));
  };
  // The run's sync: barriers, or shadow rounds paced as decided from the plan, and a participant.
  ShadowSyncOptions shadow;
  shadow.threads = config_.sync_threads == 0 ? groups_ : config_.sync_threads;
  numa::Binder* binder = binder_.get();
  const int groups = groups_;
  shadow.on_thread_start = [binder, groups](int thread) { binder->bind_helper(thread % groups); };
  shadow.progress = [&runtime] { return runtime.examples_done(); };
  ParticipantAccess access;
  if (setup_.participant != nullptr) {
    access = ParticipantAccess{state_->replica_pointers(), state_->dense_floats(), &state_->embeddings(),
                               touched_rows_.get()};
  }
  train::RunSync sync(config_.sync, rule_.get(), groups_, config_.sync_every, train::choose_sync_pacing(config_, plan_),
                      std::move(shadow), setup_.participant, std::move(access));
  if (!final_dense_) final_dense_ = std::make_unique<AlignedFloatBuffer>(state_->dense_floats());
  // The shadow warm-up, as a point in the run's examples (epochs x training rows, so a resumed
  // run ends it at the same point).
  const double warmup_share = config_.effective_sync_warmup(groups_);
  const uint64_t warmup_end = static_cast<uint64_t>(
      std::llround(warmup_share * static_cast<double>(train_.rows()) * static_cast<double>(config_.epochs)));
  train::Coordinator coordinator(train::CoordinatorParts{config_, model_, eval_, *state_, runtime, sync,
                                                         rule_.get(), observer, setup_.stop, write_checkpoint,
                                                         positive_rate_, warmup_end, warmup_share});
  TrainResult result = coordinator.run(*final_dense_);
  // The final model is the mean of the replicas (already computed when evaluation rows exist).
  train::mean_of_replicas(state_->const_replica_pointers(), state_->dense_floats(), final_dense_->data());
  return result;
}

Trainer::Trainer(TrainConfig config, DataParts train, DataView eval, TrainerSetup setup)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(train), eval, std::move(setup))) {}
Trainer::~Trainer() = default;
TrainResult Trainer::run() { return impl_->run(); }
const Model& Trainer::model() const { return impl_->model_; }
const float* Trainer::final_dense() const { return impl_->final_dense_ ? impl_->final_dense_->data() : nullptr; }
const EmbeddingStore& Trainer::embeddings() const { return impl_->state_->embeddings(); }
std::vector<const float*> Trainer::replicas() const {
  return impl_->state_->const_replica_pointers();
}
const numa::Plan& Trainer::plan() const { return impl_->plan_; }
int Trainer::groups() const { return impl_->groups_; }
int Trainer::threads_per_group() const { return impl_->threads_; }
const std::vector<InitOrigin>& Trainer::init_chain() const { return impl_->init_chain_; }

}  // namespace shadowsync
