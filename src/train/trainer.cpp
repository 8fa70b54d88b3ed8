// Trainer implementation: groups, Hogwild workers, shadow or foreground synchronization, the
// coordinator loop (progress, evaluation, checkpoints, signals), and the final model.
//
// Threads and what they touch:
//  - worker (g, w): reads and writes replica g (or the one shared replica in hogwild mode), its
//    optimizer state and the shared embedding tables, inside ModelWorkspace::train_step, whose
//    header documents the Hogwild access discipline; the group's counters are atomics.
//  - shadow threads (ShadowSynchronizer): read and write every replica with the delta rule of
//    SyncRule (see sync_rule.hpp for its access discipline).
//  - the coordinator (the thread that calls run()): reads counters; samples the replicas for
//    divergence with relaxed atomic loads; everything else it reads (means, evaluation,
//    checkpoints) it reads only while WorkerGate::pause() holds every worker parked and the
//    shadow threads are stopped.
//
// Failures: a worker keeps its exception (worker_error_) and asks the others to stop; run()
// rethrows it after joining. Any exception on the coordinator goes through run()'s guard, which
// sets stop_, releases the gate if the workers were parked, joins them and stops the shadow
// threads before the exception leaves run(). The last worker to finish asks the synchronizer to
// stop (under finish_mutex_, which also guards live_synchronizer_), so no shadow round starts
// after the last batch. Stop signals are recorded by the watcher thread of stop_signals.cpp; no
// signal handler runs on a training or evaluation thread.
#include "shadowsync/train/trainer.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <condition_variable>
#include <mutex>
#include <new>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "shadowsync/core/aligned_buffer.hpp"
#include "train/checkpoint.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/numa/binder.hpp"
#include "shadowsync/numa/topology.hpp"
#include "shadowsync/sync/shadow_sync.hpp"
#include "shadowsync/sync/sync_rule.hpp"
#include "train/progress.hpp"
#include "train/replica_math.hpp"
#include "train/stop_signals.hpp"
#include "train/worker_gate.hpp"

namespace shadowsync {

using train::WorkerGate;
using Clock = std::chrono::steady_clock;

namespace {

// TEMPORARY: the engine rewrite routes this to its observer. The Binder's warning ("...: threads
// and memory are not bound"), printed as "shadowsync: warning: ..." once per process.
void print_binding_warning_once(std::string_view message) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true, std::memory_order_acq_rel)) return;
  std::fprintf(stderr, "shadowsync: warning: %.*s\n", static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

QualityReport quality_of(const BinaryMetrics& m) {
  return QualityReport{m.count(), m.ne(), m.logloss(), m.auc(), m.calibration()};
}

SyncRuleKind rule_kind(SyncMode mode) {
  switch (mode) {
    case SyncMode::ShadowEASGD:
    case SyncMode::ForegroundEASGD:
      return SyncRuleKind::EASGD;
    case SyncMode::ShadowBMUF:
    case SyncMode::ForegroundBMUF:
      return SyncRuleKind::BMUF;
    default:
      return SyncRuleKind::MA;
  }
}

// Bytes of memory available to this process: MemAvailable + SwapFree from /proc/meminfo
// (0 when unknown, which disables the check).
uint64_t available_memory_bytes() {
  std::FILE* meminfo = std::fopen("/proc/meminfo", "r");
  if (meminfo == nullptr) return 0;
  uint64_t total_kib = 0;
  char name[64];
  unsigned long long kib = 0;
  while (std::fscanf(meminfo, "%63s %llu kB", name, &kib) == 2) {
    if (std::strcmp(name, "MemAvailable:") == 0 || std::strcmp(name, "SwapFree:") == 0) total_kib += kib;
  }
  std::fclose(meminfo);
  return total_kib * 1024;
}

// Floats one ModelWorkspace holds for `batch` (its buffers, see model_workspace.cpp; an
// estimate used only to refuse hopeless sizes before any thread starts).
uint64_t workspace_floats(const Model& model, uint64_t batch) {
  const DenseLayout& layout = model.layout();
  const uint64_t d = static_cast<uint64_t>(model.config().embedding_dim);
  uint64_t widest = static_cast<uint64_t>(model.config().interaction_width());
  uint64_t activations = 0;
  for (const auto* layers : {&layout.bottom, &layout.top}) {
    for (const DenseLayout::Layer& l : *layers) {
      activations += static_cast<uint64_t>(l.out);
      widest = std::max({widest, static_cast<uint64_t>(l.in), static_cast<uint64_t>(l.out)});
    }
  }
  const uint64_t per_example = activations + 2 * (kNumSparse + 1) * d + widest * 3 + 2;
  return batch * per_example + layout.total_floats;
}

bool has_center(SyncMode mode) {
  return mode == SyncMode::ShadowEASGD || mode == SyncMode::ForegroundEASGD;
}

// Counters of one group, written by its workers (relaxed atomics: they are statistics and
// progress, ordered for the checkpoint by the WorkerGate pause).
struct alignas(64) GroupCounters {
  std::atomic<uint64_t> next_batch{0};
  std::atomic<uint64_t> batches_done{0};
  std::atomic<uint64_t> examples{0};
  std::atomic<uint64_t> iterations{0};
  std::atomic<uint64_t> syncs{0};
  std::atomic<double> loss_sum{0};
};

struct GroupData {
  DataView rows;               // this group's disjoint share of the training data
  uint64_t batches_per_epoch = 0;
  uint64_t total_batches = 0;  // epochs x batches_per_epoch
  float* replica = nullptr;
  float* optimizer_state = nullptr;
};

}  // namespace

class Trainer::Impl {
 public:
  Impl(TrainConfig config, DataView train, DataView eval);
  ~Impl();
  TrainResult run();

  TrainConfig config_;
  DataView train_;
  DataView eval_;
  numa::Topology topology_;
  numa::Plan plan_;
  std::unique_ptr<numa::Binder> binder_;
  Model model_;
  int groups_ = 0;
  int threads_ = 0;
  size_t dense_floats_ = 0;

  std::vector<AlignedFloatBuffer> replicas_;         // 1 (hogwild) or one per group
  std::vector<AlignedFloatBuffer> optimizer_state_;  // same count: Adagrad accumulators
  std::unique_ptr<EmbeddingStore> embeddings_;
  std::unique_ptr<SyncRule> rule_;
  std::unique_ptr<AlignedFloatBuffer> final_dense_;

  std::vector<GroupData> group_data_;
  std::unique_ptr<GroupCounters[]> counters_;
  std::unique_ptr<std::atomic<double>[]> wait_seconds_;  // per worker
  std::atomic<bool> stop_{false};
  std::atomic<bool> diverged_{false};
  std::atomic<uint64_t> diverged_at_{0};
  std::atomic<uint64_t> foreground_rounds_{0};
  // Examples handed out to workers; --max-examples stops claiming at the limit (in turn mode
  // exactly at the same batch every run, so a stopped deterministic run is reproducible).
  std::atomic<uint64_t> claimed_examples_{0};
  std::atomic<bool> max_reached_{false};
  std::vector<uint64_t> group_examples_at_start_;  // resumed examples do not count in rates
  std::vector<uint64_t> group_iterations_at_start_;  // restored iteration counts (foreground sync phase)
  std::string last_checkpoint_;
  std::unique_ptr<CheckpointLock> checkpoint_lock_;  // held for the run when --checkpoint is set
  std::string train_fingerprint_;                    // see train_fingerprint()

  // The first exception a worker ended with (rethrown by run() after every thread is joined).
  std::mutex worker_error_mutex_;
  std::exception_ptr worker_error_;

  // Workers still inside their loop, and the running synchronizer: the last worker to finish
  // asks it to stop at once, so the shadow rounds end with the last batch (the final BMUF
  // momentum and EASGD centre do not depend on when the coordinator notices).
  std::mutex finish_mutex_;
  std::condition_variable finished_;
  int workers_running_ = 0;
  ShadowSynchronizer* live_synchronizer_ = nullptr;

 private:
  void allocate();
  void initialize();
  void restore(const std::string& path);
  void check_resumed_data(const nlohmann::json& header, const std::string& where);
  const std::string& train_fingerprint();  // data_fingerprint(train_), computed once
  void write_checkpoint(const std::string& path);
  void worker(int group, int worker, WorkerGate& gate);
  void worker_loop(int group, int worker, WorkerGate& gate);
  void worker_finished();
  SyncParams sync_params() const;
  Error divergence_error(uint64_t examples) const;
  std::function<void()> foreground_completion(int group, bool whole_world);
  int shadow_interval_ms(train::ProgressPrinter& printer);
  TrainReport make_report(const std::string& event, double elapsed, uint64_t examples_at_start,
                          uint64_t rounds, double running_logloss, double divergence) const;
  double sample_divergence() const;
  uint64_t total_examples_done() const;
  uint64_t target_examples() const;
  void compute_final_dense();

 public:
  std::vector<const float*> replica_pointers() const;
};

Trainer::Impl::Impl(TrainConfig config, DataView train, DataView eval)
    : config_(std::move(config)),
      train_(train),
      eval_(eval),
      topology_(numa::Topology::load(config_.topology)),
      plan_(numa::make_plan(topology_, config_.placement)),
      model_(config_.model) {
  config_.validate();
  // One training run per checkpoint path: a second one given the same path is refused.
  if (!config_.checkpoint_path.empty()) checkpoint_lock_ = std::make_unique<CheckpointLock>(config_.checkpoint_path);
  groups_ = static_cast<int>(plan_.groups.size());
  threads_ = plan_.threads_per_group;
  if (config_.deterministic && threads_ != 1) {
    throw Error("--deterministic needs one worker per group; the plan has " + std::to_string(threads_) +
                " (pass --threads-per-group 1)");
  }
  if (train_.rows < static_cast<size_t>(groups_)) {
    throw Error("--data: " + std::to_string(train_.rows) + " training rows cannot be split over " +
                std::to_string(groups_) + " groups");
  }
  dense_floats_ = model_.layout().total_floats;
  // Sizes that can be checked before anything is allocated or any thread starts.
  {
    const uint64_t replicas = config_.sync == SyncMode::Hogwild ? 1 : static_cast<uint64_t>(groups_);
    uint64_t embedding_floats = 0;
    for (const uint32_t rows : config_.model.hashing.rows) {
      embedding_floats += static_cast<uint64_t>(rows) * (static_cast<uint64_t>(config_.model.embedding_dim) + 1);
    }
    const uint64_t workers = static_cast<uint64_t>(groups_) * static_cast<uint64_t>(threads_);
    const uint64_t workspace_bytes = workspace_floats(model_, static_cast<uint64_t>(config_.batch)) * sizeof(float);
    const uint64_t needed = (replicas * 2 * dense_floats_ + embedding_floats) * sizeof(float) + workers * workspace_bytes;
    const uint64_t available = available_memory_bytes();
    if (available > 0 && needed > available) {
      throw Error(fmt::format("not enough memory: this run needs about {:.2f} GiB (embedding tables {:.2f} GiB from "
                              "--rows-per-table / --model; {} worker buffers of {:.2f} GiB each from --batch {}), "
                              "and {:.2f} GiB are available",
                              static_cast<double>(needed) / (1 << 30),
                              static_cast<double>(embedding_floats * sizeof(float)) / (1 << 30), workers,
                              static_cast<double>(workspace_bytes) / (1 << 30), config_.batch,
                              static_cast<double>(available) / (1 << 30)));
    }
  }
  binder_ = std::make_unique<numa::Binder>(topology_, plan_, print_binding_warning_once);
  try {
    allocate();
  } catch (const std::bad_alloc&) {
    throw Error("not enough memory for the replicas and embedding tables (--rows-per-table, --model, --groups)");
  }
  if (config_.resume_path.empty()) {
    initialize();
  } else {
    restore(config_.resume_path);
  }
}

Trainer::Impl::~Impl() = default;

void Trainer::Impl::allocate() {
  const int replica_count = config_.sync == SyncMode::Hogwild ? 1 : groups_;
  for (int r = 0; r < replica_count; ++r) {
    // A group's replica and optimizer state live on its node; the one hogwild replica is
    // interleaved over every node in use, like the embedding tables.
    MemoryResource& memory = config_.sync == SyncMode::Hogwild ? binder_->interleaved_memory()
                                                               : binder_->node_memory(r);
    replicas_.emplace_back(dense_floats_, memory);
    optimizer_state_.emplace_back(dense_floats_, memory);
  }
  embeddings_ = std::make_unique<EmbeddingStore>(config_.model.hashing, config_.model.embedding_dim,
                                                 binder_->interleaved_memory());

  counters_ = std::make_unique<GroupCounters[]>(static_cast<size_t>(groups_));
  wait_seconds_ = std::make_unique<std::atomic<double>[]>(static_cast<size_t>(groups_ * threads_));
  const uint64_t batch = static_cast<uint64_t>(config_.batch);
  for (int g = 0; g < groups_; ++g) {
    const size_t begin = train_.rows * static_cast<size_t>(g) / static_cast<size_t>(groups_);
    const size_t end = train_.rows * static_cast<size_t>(g + 1) / static_cast<size_t>(groups_);
    GroupData data;
    data.rows = train_.slice(begin, end);
    data.batches_per_epoch = (data.rows.rows + batch - 1) / batch;
    data.total_batches = data.batches_per_epoch * static_cast<uint64_t>(config_.epochs);
    const size_t r = replicas_.size() == 1 ? 0 : static_cast<size_t>(g);
    data.replica = replicas_[r].data();
    data.optimizer_state = optimizer_state_[r].data();
    group_data_.push_back(data);
  }
}

std::vector<const float*> Trainer::Impl::replica_pointers() const {
  std::vector<const float*> out;
  for (const AlignedFloatBuffer& r : replicas_) out.push_back(r.data());
  return out;
}

void Trainer::Impl::initialize() {
  // Every replica starts from the same point, as in the paper.
  model_.init_dense(replicas_[0].data(), config_.seed);
  for (size_t r = 1; r < replicas_.size(); ++r) {
    std::memcpy(replicas_[r].data(), replicas_[0].data(), dense_floats_ * sizeof(float));
  }
  model_.init_embeddings(*embeddings_, config_.seed);
  if (is_shadow(config_.sync) || is_foreground(config_.sync)) {
    std::vector<float*> pointers;
    for (AlignedFloatBuffer& r : replicas_) pointers.push_back(r.data());
    rule_ = std::make_unique<SyncRule>(sync_params(), pointers, dense_floats_, binder_->node_memory(0));
  }
}

void Trainer::Impl::restore(const std::string& path) {
  // Everything in the checkpoint is validated before any state of this run is touched; every
  // message names the checkpoint and the field.
  const std::string where = "--resume '" + path + "'";
  CheckpointReader reader(path);
  reader.refuse_unknown_sections(kTrainerCheckpointSections);
  const nlohmann::json header = reader.json("header");
  const ModelConfig saved = ModelConfig::from_json(header_field(header, "model", where), where + ": model");
  if (!(saved.hashing == config_.model.hashing)) {
    throw Error(where + ": checkpoint was written with other hashing parameters (rows per table or "
                "salt differ from this run's --rows-per-table / --hash-salt: checkpoint vs this run: " +
                saved.differences(config_.model) + ")");
  }
  if (!(saved == config_.model)) {
    throw Error(where + ": checkpoint is for another model (checkpoint vs this run's --model: " +
                saved.differences(config_.model) + ")");
  }
  const std::string saved_sync = header_string(header, "sync", where);
  if (saved_sync != sync_mode_name(config_.sync)) {
    bool known = true;  // a mode name is printed as is, anything else quoted and cut short
    try {
      parse_sync_mode(saved_sync);
    } catch (const Error&) {
      known = false;
    }
    throw Error(where + ": checkpoint was trained with " + (known ? saved_sync : json_brief(saved_sync)) + ", asked for " +
                sync_mode_name(config_.sync) + " (resume with the same --sync)");
  }
  const uint64_t saved_groups = header_uint(header, "groups", 1, kMaxCheckpointReplicas, where);
  const uint64_t saved_replicas = header_uint(header, "replicas", 1, kMaxCheckpointReplicas, where);
  if (saved_groups != static_cast<uint64_t>(groups_) || saved_replicas != replicas_.size()) {
    throw Error(where + ": checkpoint has " + std::to_string(saved_groups) + " groups and " +
                std::to_string(saved_replicas) + " replicas; this run has " + std::to_string(groups_) +
                " groups and " + std::to_string(replicas_.size()) + " replicas (same --groups and --sync needed)");
  }
  const uint64_t saved_batch = header_uint(header, "batch", 1, INT32_MAX, where);
  if (saved_batch != static_cast<uint64_t>(config_.batch)) {
    throw Error(where + ": checkpoint was trained with --batch " + std::to_string(saved_batch) +
                "; resume with the same batch size");
  }
  const uint64_t saved_floats = header_uint(header, "dense_floats", 1, UINT64_MAX, where);
  if (saved_floats != dense_floats_) {
    throw Error(where + ": header says " + std::to_string(saved_floats) + " dense floats, this model has " +
                std::to_string(dense_floats_));
  }
  check_resumed_data(header, where);

  // Progress: a prefix of each group's batches, so examples follow from batches exactly.
  const nlohmann::json& progress = header_field(header, "progress", where);
  if (!progress.is_array() || progress.size() != static_cast<size_t>(groups_)) {
    throw Error(where + ": field 'progress' must be an array of " + std::to_string(groups_) +
                " group records, got " + json_brief(progress) +
                (progress.is_array() ? " of " + std::to_string(progress.size()) : ""));
  }
  struct Progress {
    uint64_t batches, examples, iterations, syncs;
  };
  std::vector<Progress> saved_progress;
  uint64_t saved_examples = 0;
  const uint64_t batch = static_cast<uint64_t>(config_.batch);
  for (int g = 0; g < groups_; ++g) {
    const GroupData& data = group_data_[static_cast<size_t>(g)];
    const nlohmann::json& p = progress[static_cast<size_t>(g)];
    const std::string at = where + ": progress[" + std::to_string(g) + "]";
    Progress r{};
    r.batches = header_uint(p, "batches", 0, data.total_batches, at);
    r.examples = header_uint(p, "examples", 0, data.rows.rows * static_cast<uint64_t>(config_.epochs), at);
    const uint64_t implied = (r.batches / data.batches_per_epoch) * data.rows.rows +
                             (r.batches % data.batches_per_epoch) * batch;
    if (r.examples != implied) {
      throw Error(at + ": " + std::to_string(r.examples) + " examples, but " + std::to_string(r.batches) +
                  " batches of " + std::to_string(batch) + " over this group's " + std::to_string(data.rows.rows) +
                  " rows are " + std::to_string(implied));
    }
    r.iterations = header_uint(p, "iterations", 0, data.total_batches, at);
    r.syncs = header_uint(p, "syncs", 0, uint64_t{1} << 62, at);
    saved_examples += r.examples;
    saved_progress.push_back(r);
  }
  if (header_uint(header, "examples", 0, UINT64_MAX, where) != saved_examples) {
    throw Error(where + ": field 'examples' is not the sum of the groups' progress (" +
                std::to_string(saved_examples) + ")");
  }

  // Every section size before any state is read.
  const uint64_t dense_bytes = static_cast<uint64_t>(dense_floats_) * replicas_.size() * sizeof(float);
  reader.expect_bytes("replicas", dense_bytes);
  reader.expect_bytes("dense_state", dense_bytes);
  uint64_t table_bytes = 0;
  uint64_t accumulator_bytes = 0;
  for (int t = 0; t < kNumSparse; ++t) {
    table_bytes += embeddings_->table_floats(t) * sizeof(float);
    accumulator_bytes += embeddings_->rows(t) * sizeof(float);
  }
  reader.expect_bytes("embeddings", table_bytes);
  reader.expect_bytes("embedding_state", accumulator_bytes);

  // Sync state (centre / global model) is created as at the start, then overwritten.
  initialize();
  std::vector<std::pair<float*, size_t>> parts;
  for (AlignedFloatBuffer& r : replicas_) parts.emplace_back(r.data(), dense_floats_);
  reader.read_float_parts("replicas", parts);
  parts.clear();
  for (AlignedFloatBuffer& s : optimizer_state_) parts.emplace_back(s.data(), dense_floats_);
  reader.read_float_parts("dense_state", parts);
  parts.clear();
  for (int t = 0; t < kNumSparse; ++t) parts.emplace_back(embeddings_->table_data(t), embeddings_->table_floats(t));
  reader.read_float_parts("embeddings", parts);
  parts.clear();
  for (int t = 0; t < kNumSparse; ++t) parts.emplace_back(embeddings_->accumulator(t), embeddings_->rows(t));
  reader.read_float_parts("embedding_state", parts);
  const std::vector<std::pair<float*, size_t>> state =
      rule_ ? rule_->state_buffers() : std::vector<std::pair<float*, size_t>>{};
  if (!state.empty()) {
    reader.read_float_parts("sync_state", state);
  } else if (reader.has("sync_state")) {
    throw Error(where + ": section 'sync_state' is not used by --sync " + sync_mode_name(config_.sync));
  }
  for (int g = 0; g < groups_; ++g) {
    const Progress& r = saved_progress[static_cast<size_t>(g)];
    GroupCounters& c = counters_[static_cast<size_t>(g)];
    c.next_batch = r.batches;
    c.batches_done = r.batches;
    c.examples = r.examples;
    c.iterations = r.iterations;
    c.syncs = r.syncs;
  }
}

// The data a checkpoint was trained on (header "data": training rows, held-out rows, fingerprint
// of the training rows) must be this run's, or resuming would train some rows twice and others
// never. Checkpoints written before this was recorded are refused: they cannot be resumed
// exactly (eval and predict still read them).
void Trainer::Impl::check_resumed_data(const nlohmann::json& header, const std::string& where) {
  if (!header.is_object() || !header.contains("data")) {
    throw Error(where + ": checkpoint does not record which data it was trained on (written by an older "
                "shadowsync), so it cannot be resumed exactly; start a new run (eval and predict still read it)");
  }
  const nlohmann::json& data = header.at("data");
  const std::string at = where + ": data";
  const uint64_t train_rows = header_uint(data, "train_rows", 1, UINT64_MAX, at);
  const uint64_t eval_rows = header_uint(data, "eval_rows", 0, UINT64_MAX, at);
  const std::string fingerprint = header_string(data, "fingerprint", at);
  const std::string saved = "checkpoint was trained on " + std::to_string(train_rows) + " rows with " +
                            std::to_string(eval_rows) + " held out (fingerprint " + json_brief(fingerprint) + ")";
  if (train_rows != train_.rows || eval_rows != eval_.rows) {
    throw Error(where + ": " + saved + "; this run has " + std::to_string(train_.rows) + " rows with " +
                std::to_string(eval_.rows) + " held out (resume with the same --data and --eval-fraction)");
  }
  if (fingerprint != train_fingerprint()) {
    throw Error(where + ": " + saved + "; this run has as many rows but other data (fingerprint \"" +
                train_fingerprint() + "\"; resume with the same --data)");
  }
}

const std::string& Trainer::Impl::train_fingerprint() {
  if (train_fingerprint_.empty()) train_fingerprint_ = data_fingerprint(train_);
  return train_fingerprint_;
}

void Trainer::Impl::write_checkpoint(const std::string& path) {
  nlohmann::json header;
  header["format"] = "shadowsync checkpoint";
  header["model"] = config_.model.to_json();
  header["train"] = config_.to_json();
  header["sync"] = sync_mode_name(config_.sync);
  header["groups"] = groups_;
  header["replicas"] = replicas_.size();
  header["dense_floats"] = dense_floats_;
  header["batch"] = config_.batch;
  header["data"] = {{"train_rows", train_.rows}, {"eval_rows", eval_.rows}, {"fingerprint", train_fingerprint()}};
  nlohmann::json progress = nlohmann::json::array();
  for (int g = 0; g < groups_; ++g) {
    const GroupCounters& c = counters_[static_cast<size_t>(g)];
    progress.push_back({{"batches", c.batches_done.load()},
                        {"examples", c.examples.load()},
                        {"iterations", c.iterations.load()},
                        {"syncs", c.syncs.load()}});
  }
  header["progress"] = progress;
  header["examples"] = total_examples_done();

  CheckpointWriter writer(path);
  writer.add_json("header", header);
  std::vector<std::pair<const float*, size_t>> parts;
  for (const AlignedFloatBuffer& r : replicas_) parts.emplace_back(r.data(), dense_floats_);
  writer.add_float_parts("replicas", parts);
  parts.clear();
  for (const AlignedFloatBuffer& s : optimizer_state_) parts.emplace_back(s.data(), dense_floats_);
  writer.add_float_parts("dense_state", parts);
  parts.clear();
  for (int t = 0; t < kNumSparse; ++t) parts.emplace_back(embeddings_->table_data(t), embeddings_->table_floats(t));
  writer.add_float_parts("embeddings", parts);
  parts.clear();
  for (int t = 0; t < kNumSparse; ++t) parts.emplace_back(embeddings_->accumulator(t), embeddings_->rows(t));
  writer.add_float_parts("embedding_state", parts);
  if (rule_) {
    parts.clear();
    for (const auto& [data, count] : rule_->state_buffers()) parts.emplace_back(data, count);
    if (!parts.empty()) writer.add_float_parts("sync_state", parts);
  }
  writer.commit();
  last_checkpoint_ = path;
}

uint64_t Trainer::Impl::total_examples_done() const {
  uint64_t total = 0;
  for (int g = 0; g < groups_; ++g) total += counters_[static_cast<size_t>(g)].examples.load(std::memory_order_relaxed);
  return total;
}

uint64_t Trainer::Impl::target_examples() const {
  uint64_t total = 0;
  for (const GroupData& g : group_data_) total += g.rows.rows * static_cast<uint64_t>(config_.epochs);
  if (config_.max_examples > 0) total = std::min(total, config_.max_examples);
  return total;
}

SyncParams Trainer::Impl::sync_params() const {
  SyncParams params = SyncParams::defaults(rule_kind(config_.sync), groups_);
  if (config_.alpha) params.alpha = *config_.alpha;
  if (config_.block_momentum) params.block_momentum = *config_.block_momentum;
  if (config_.block_lr) params.block_lr = *config_.block_lr;
  params.nesterov = config_.nesterov;
  return params;
}

Error Trainer::Impl::divergence_error(uint64_t examples) const {
  const std::string kept = last_checkpoint_.empty() ? "no checkpoint was written"
                                                    : "the last good checkpoint '" + last_checkpoint_ + "' is kept";
  return Error(fmt::format("training diverged: the loss became NaN or infinite at about {} examples ({}); "
                           "lower --lr / --emb-lr",
                           examples, kept));
}

std::function<void()> Trainer::Impl::foreground_completion(int group, bool whole_world) {
  if (whole_world) {
    return [this] {
      rule_->run_round();
      for (int g = 0; g < groups_; ++g) counters_[static_cast<size_t>(g)].syncs.fetch_add(1, std::memory_order_relaxed);
      foreground_rounds_.fetch_add(1, std::memory_order_relaxed);
    };
  }
  // fr-easgd: this group alone exchanges with the centre (the gate's mutex serializes groups).
  return [this, group] {
    rule_->exchange_with_center(group);
    counters_[static_cast<size_t>(group)].syncs.fetch_add(1, std::memory_order_relaxed);
    foreground_rounds_.fetch_add(1, std::memory_order_relaxed);
  };
}

// A worker never lets an exception escape its thread: the first one is kept for run() to
// rethrow after every thread is joined, and the others are asked to stop.
void Trainer::Impl::worker(int group, int worker, WorkerGate& gate) {
  try {
    worker_loop(group, worker, gate);
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    try {
      std::rethrow_exception(error);
    } catch (const Error&) {
    } catch (const std::bad_alloc&) {
      error = std::make_exception_ptr(Error(fmt::format(
          "training worker {}.{}: out of memory (--batch {} needs buffers it could not get)", group, worker,
          config_.batch)));
    } catch (const std::exception& e) {
      error = std::make_exception_ptr(Error(fmt::format("training worker {}.{} failed: {}", group, worker, e.what())));
    } catch (...) {
      error = std::make_exception_ptr(Error(fmt::format("training worker {}.{} failed", group, worker)));
    }
    {
      std::lock_guard lock(worker_error_mutex_);
      if (!worker_error_) worker_error_ = error;
    }
    stop_.store(true, std::memory_order_relaxed);
  }
  try {
    gate.leave(group, worker, [this](int g, bool world) {
      if (rule_ && is_foreground(config_.sync)) foreground_completion(g, world)();
    });
  } catch (...) {
    std::lock_guard lock(worker_error_mutex_);
    if (!worker_error_) worker_error_ = std::current_exception();
    stop_.store(true, std::memory_order_relaxed);
  }
  worker_finished();
}

void Trainer::Impl::worker_finished() {
  std::lock_guard lock(finish_mutex_);
  if (--workers_running_ == 0 && live_synchronizer_ != nullptr) live_synchronizer_->request_stop();
  finished_.notify_all();
}

void Trainer::Impl::worker_loop(int group, int worker, WorkerGate& gate) {
  binder_->bind_worker(group, worker);
  std::unique_ptr<ModelWorkspace> made;
  try {
    made = std::make_unique<ModelWorkspace>(model_, config_.batch);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("--batch {}: training worker {}.{} cannot get its buffers (out of memory); use a "
                            "smaller --batch", config_.batch, group, worker));
  } catch (const Error& e) {
    throw Error(fmt::format("--batch {}: training worker {}.{} cannot get its buffers ({}); use a smaller --batch",
                            config_.batch, group, worker, e.what()));
  }
  ModelWorkspace& workspace = *made;
  GroupData& data = group_data_[static_cast<size_t>(group)];
  GroupCounters& counters = counters_[static_cast<size_t>(group)];
  const bool foreground = is_foreground(config_.sync);
  const bool whole_world = config_.sync != SyncMode::ForegroundEASGD;
  const bool turns = config_.deterministic;
  const uint64_t batch = static_cast<uint64_t>(config_.batch);
  std::atomic<double>& waited = wait_seconds_[static_cast<size_t>(group * threads_ + worker)];
  // This worker's iterations, whose multiples of --sync-every are its foreground sync points.
  // With one worker per group (always so in deterministic mode) they are the group's restored
  // count, so a resumed run syncs at the same iterations as an uninterrupted one.
  uint64_t my_iterations = threads_ == 1 ? group_iterations_at_start_[static_cast<size_t>(group)] : 0;
  // In turn mode a stop (signal, --max-examples) is taken only at the start of a turn cycle,
  // with no foreground barrier half full, so the checkpoint is a state the uninterrupted run
  // also passes through and resuming from it is bit-identical.
  auto stop_now = [&] {
    if (!stop_.load(std::memory_order_relaxed)) return false;
    return !turns || diverged_.load(std::memory_order_relaxed) || gate.at_cycle_start(group, worker);
  };

  while (!stop_now()) {
    gate.before_batch(group, worker);
    if (stop_now()) break;
    if (config_.max_examples > 0 && claimed_examples_.load(std::memory_order_relaxed) >= config_.max_examples) {
      max_reached_.store(true, std::memory_order_relaxed);
      stop_.store(true, std::memory_order_relaxed);
      if (stop_now()) break;
    }
    const uint64_t b = counters.next_batch.fetch_add(1, std::memory_order_relaxed);
    if (b >= data.total_batches) break;
    const uint64_t begin = (b % data.batches_per_epoch) * batch;
    const uint64_t end = std::min<uint64_t>(begin + batch, data.rows.rows);
    claimed_examples_.fetch_add(end - begin, std::memory_order_relaxed);
    const DataView rows = data.rows.slice(begin, end);
    const float loss = workspace.train_step(rows, data.replica, data.optimizer_state, *embeddings_,
                                            config_.optimizer);
    counters.examples.fetch_add(end - begin, std::memory_order_relaxed);
    if (!std::isfinite(loss)) {
      diverged_at_.store(total_examples_done(), std::memory_order_relaxed);
      diverged_.store(true, std::memory_order_relaxed);
      stop_.store(true, std::memory_order_relaxed);
      gate.after_batch(group, worker);
      break;
    }
    counters.loss_sum.fetch_add(static_cast<double>(loss) * static_cast<double>(end - begin),
                                std::memory_order_relaxed);
    counters.iterations.fetch_add(1, std::memory_order_relaxed);
    counters.batches_done.fetch_add(1, std::memory_order_relaxed);
    if (foreground && ++my_iterations % static_cast<uint64_t>(config_.sync_every) == 0) {
      const double seconds = gate.sync_point(group, worker, whole_world, foreground_completion(group, whole_world));
      waited.fetch_add(seconds, std::memory_order_relaxed);
    } else {
      gate.after_batch(group, worker);
    }
  }
}

int Trainer::Impl::shadow_interval_ms(train::ProgressPrinter& printer) {
  if (config_.sync_interval_ms != TrainConfig::kAutoSyncInterval) return config_.sync_interval_ms;
  bool spare = true;
  for (const numa::GroupPlacement& g : plan_.groups) spare = spare && g.helper_on_spare_pu;
  if (spare) return 0;
  // No core of its own: time a round and leave nine times that between rounds. The round runs
  // on scratch copies of the replicas (on the same nodes), so the model and the rule's state
  // (BMUF momentum, EASGD centre) are untouched: a resumed run continues exactly.
  std::vector<AlignedFloatBuffer> scratch;
  std::vector<float*> pointers;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    scratch.emplace_back(dense_floats_, binder_->node_memory(static_cast<int>(r)));
    std::memcpy(scratch.back().data(), replicas_[r].data(), dense_floats_ * sizeof(float));
    pointers.push_back(scratch.back().data());
  }
  SyncRule probe(sync_params(), pointers, dense_floats_, binder_->node_memory(0));
  const Clock::time_point start = Clock::now();
  probe.run_round();
  const double round_ms = seconds_since(start) * 1e3;
  const int interval = std::max(1, static_cast<int>(std::ceil(round_ms * 10)));
  printer.print_line(fmt::format("shadow sync: no spare processing unit for the sync thread, rounds paced every {} ms "
                                 "(one round takes {:.2f} ms; --sync-interval-ms 0 runs them back to back)",
                                 interval, round_ms));
  return interval;
}

double Trainer::Impl::sample_divergence() const {
  return train::replica_divergence(replica_pointers(), dense_floats_, 7);
}

TrainReport Trainer::Impl::make_report(const std::string& event, double elapsed, uint64_t examples_at_start,
                                       uint64_t rounds, double running_logloss, double divergence) const {
  TrainReport r;
  r.event = event;
  r.examples = total_examples_done();
  r.total_examples = target_examples();
  r.elapsed_s = elapsed;
  const double trained = static_cast<double>(r.examples - examples_at_start);
  r.examples_per_second = elapsed > 0 ? trained / elapsed : 0;
  r.sync_rounds = rounds;
  r.sync_rounds_per_second = elapsed > 0 ? static_cast<double>(rounds) / elapsed : 0;
  uint64_t iterations = 0;
  uint64_t syncs = 0;
  for (int g = 0; g < groups_; ++g) {
    const GroupCounters& c = counters_[static_cast<size_t>(g)];
    GroupProgress p;
    p.examples = c.examples.load(std::memory_order_relaxed);
    p.iterations = c.iterations.load(std::memory_order_relaxed);
    p.syncs = c.syncs.load(std::memory_order_relaxed);
    const uint64_t trained = p.examples - group_examples_at_start_[static_cast<size_t>(g)];
    p.examples_per_second = elapsed > 0 ? static_cast<double>(trained) / elapsed : 0;
    iterations += p.iterations;
    syncs += p.syncs;
    r.groups.push_back(p);
  }
  if (syncs > 0) r.sync_gap = static_cast<double>(iterations) / static_cast<double>(syncs);
  r.divergence = divergence;
  double waited = 0;
  for (int i = 0; i < groups_ * threads_; ++i) waited += wait_seconds_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
  r.wait_share = elapsed > 0 ? waited / (elapsed * groups_ * threads_) : 0;
  r.running_logloss = running_logloss;
  return r;
}

void Trainer::Impl::compute_final_dense() {
  if (!final_dense_) final_dense_ = std::make_unique<AlignedFloatBuffer>(dense_floats_);
  train::mean_of_replicas(replica_pointers(), dense_floats_, final_dense_->data());
}

TrainResult Trainer::Impl::run() {
  TrainResult result;
  // Nothing left to train (a resumed run that had finished): say so, touch nothing.
  const uint64_t examples_at_start = total_examples_done();
  bool batches_left = false;
  for (int g = 0; g < groups_; ++g) {
    batches_left = batches_left || counters_[static_cast<size_t>(g)].next_batch.load() <
                                       group_data_[static_cast<size_t>(g)].total_batches;
  }
  if (!batches_left || (config_.max_examples > 0 && examples_at_start >= config_.max_examples)) {
    result.already_finished = true;
    group_examples_at_start_.assign(static_cast<size_t>(groups_), 0);
    result.final_report = make_report("final", 0, examples_at_start, 0, std::nan(""), 0);
    return result;
  }

  train::ProgressPrinter printer(stderr, config_.progress_seconds, config_.quiet);
  train::MetricsWriter metrics(config_.metrics_path, config_.to_json());
  const bool shadow = is_shadow(config_.sync) && groups_ > 1;
  WorkerGate gate(groups_, threads_, config_.deterministic);

  const int interval_ms = shadow ? shadow_interval_ms(printer) : 0;
  std::unique_ptr<ShadowSynchronizer> synchronizer;
  auto start_shadow = [&] {
    if (!shadow) return;
    std::lock_guard lock(finish_mutex_);
    if (workers_running_ == 0) return;  // every batch is done: no more rounds
    ShadowSyncOptions options;
    options.threads = config_.sync_threads == 0 ? groups_ : config_.sync_threads;
    options.interval_ms = interval_ms;
    numa::Binder* binder = binder_.get();
    const int groups = groups_;
    options.on_thread_start = [binder, groups](int thread) { binder->bind_helper(thread % groups); };
    synchronizer = std::make_unique<ShadowSynchronizer>(*rule_, options);
    synchronizer->start();
    live_synchronizer_ = synchronizer.get();
  };
  uint64_t finished_rounds = 0;  // rounds of synchronizers already stopped
  auto stop_shadow = [&] {
    if (!synchronizer) return;
    {
      std::lock_guard lock(finish_mutex_);
      live_synchronizer_ = nullptr;
    }
    const std::unique_ptr<ShadowSynchronizer> stopping = std::move(synchronizer);
    stopping->stop();  // rethrows a shadow thread's error (after joining)
    finished_rounds += stopping->rounds_completed();
    for (int g = 0; g < groups_; ++g) {
      counters_[static_cast<size_t>(g)].syncs.fetch_add(stopping->rounds_completed(), std::memory_order_relaxed);
    }
  };
  auto rounds = [&] {
    return finished_rounds + (synchronizer ? synchronizer->rounds_completed() : 0) +
           foreground_rounds_.load(std::memory_order_relaxed);
  };

  claimed_examples_.store(examples_at_start);
  group_examples_at_start_.clear();
  group_iterations_at_start_.clear();
  for (int g = 0; g < groups_; ++g) {
    group_examples_at_start_.push_back(counters_[static_cast<size_t>(g)].examples.load());
    group_iterations_at_start_.push_back(counters_[static_cast<size_t>(g)].iterations.load());
  }
  double paused_seconds = 0;
  const Clock::time_point start = Clock::now();
  auto training_seconds = [&] { return seconds_since(start) - paused_seconds; };

  double loss_mark = 0;
  uint64_t examples_mark = examples_at_start;
  auto running_logloss = [&] {
    double loss = 0;
    for (int g = 0; g < groups_; ++g) loss += counters_[static_cast<size_t>(g)].loss_sum.load(std::memory_order_relaxed);
    const uint64_t examples = total_examples_done();
    const double value = examples > examples_mark ? (loss - loss_mark) / static_cast<double>(examples - examples_mark)
                                                  : std::nan("");
    loss_mark = loss;
    examples_mark = examples;
    return value;
  };

  std::vector<std::thread> workers;
  bool parked = false;  // the gate holds every worker (with_workers_parked)
  // Whatever ends run() (return or exception), no thread outlives it: stop the workers, release
  // the gate, join them, stop the shadow threads. An error found here is not allowed to hide the
  // one being thrown.
  struct ThreadGuard {
    std::function<void()> release;
    ~ThreadGuard() { release(); }
  } guard{[&] {
    stop_.store(true);
    if (parked) gate.resume();
    parked = false;
    for (std::thread& t : workers) {
      if (t.joinable()) t.join();
    }
    try {
      stop_shadow();
    } catch (...) {
    }
  }};

  // Runs `work` with every worker parked and the shadow threads stopped; its time is not
  // counted as training time. If `work` throws, the guard above resumes and joins.
  auto with_workers_parked = [&](const std::function<void()>& work) {
    const Clock::time_point pause_start = Clock::now();
    gate.pause();
    parked = true;
    stop_shadow();
    work();
    start_shadow();
    parked = false;
    gate.resume();
    paused_seconds += seconds_since(pause_start);
  };

  // Evaluates the mean model (and the EASGD centre). A NaN or infinite logit means the model
  // diverged (its weights overflow even when each is finite): reported as divergence.
  auto quality_on_eval = [&](const float* dense) {
    const std::vector<float> logits = predict_all_logits(model_, dense, *embeddings_, eval_);
    for (const float logit : logits) {
      if (!std::isfinite(logit)) throw divergence_error(total_examples_done());
    }
    BinaryMetrics metrics;
    metrics.add_logits(logits.data(), eval_.labels, eval_.rows);
    return quality_of(metrics);
  };
  auto evaluate_now = [&](TrainReport& report) {
    if (eval_.rows == 0) return;
    compute_final_dense();
    report.eval = quality_on_eval(final_dense_->data());
    if (has_center(config_.sync) && rule_ && rule_->center() != nullptr) {
      report.center = quality_on_eval(rule_->center());
    }
  };

  {
    std::lock_guard lock(finish_mutex_);
    workers_running_ = groups_ * threads_;
  }
  start_shadow();
  workers.reserve(static_cast<size_t>(groups_ * threads_));
  for (int g = 0; g < groups_; ++g) {
    for (int w = 0; w < threads_; ++w) workers.emplace_back([this, g, w, &gate] { worker(g, w, gate); });
  }

  uint64_t next_eval = config_.eval_every > 0 ? examples_at_start + config_.eval_every : UINT64_MAX;
  uint64_t next_checkpoint = config_.checkpoint_every > 0 ? examples_at_start + config_.checkpoint_every : UINT64_MAX;
  // Divergence is sampled every 100 ms (relaxed loads of every 7th parameter; cheap).
  double divergence_sum = 0;
  int divergence_samples = 0;
  double last_divergence = 0;
  Clock::time_point next_sample = start;
  auto all_finished = [&] {
    std::unique_lock lock(finish_mutex_);
    return finished_.wait_for(lock, std::chrono::milliseconds(20), [&] { return workers_running_ == 0; });
  };
  while (!all_finished()) {
    if (Clock::now() >= next_sample) {
      next_sample = Clock::now() + std::chrono::milliseconds(100);
      last_divergence = sample_divergence();
      divergence_sum += last_divergence;
      ++divergence_samples;
    }
    if (const int signal = train::received_stop_signal(); signal != 0 && !stop_.load()) {
      result.stop_signal = signal;
      result.stopped_early = true;
      stop_.store(true);
    }
    const uint64_t examples = total_examples_done();
    if (stop_.load()) continue;
    if (examples >= next_eval && eval_.rows > 0) {
      next_eval = examples + config_.eval_every;
      TrainReport report;
      with_workers_parked([&] {
        report = make_report("eval", training_seconds(), examples_at_start, rounds(), running_logloss(),
                             sample_divergence());
        evaluate_now(report);
      });
      printer.print_line(fmt::format("eval at {} examples: NE {:.5f}  logloss {:.5f}  AUC {:.5f}  calibration {:.4f}",
                                     report.examples, report.eval->ne, report.eval->logloss, report.eval->auc,
                                     report.eval->calibration));
      metrics.write(report);
    }
    if (examples >= next_checkpoint && !config_.checkpoint_path.empty()) {
      next_checkpoint = examples + config_.checkpoint_every;
      with_workers_parked([&] { write_checkpoint(config_.checkpoint_path); });
      printer.print_line(fmt::format("checkpoint at {} examples: {}", total_examples_done(), config_.checkpoint_path));
    }
    const double wall = seconds_since(start);
    if (printer.due(wall)) {
      const TrainReport report = make_report("progress", training_seconds(), examples_at_start, rounds(),
                                             running_logloss(), last_divergence);
      printer.print(report, wall);
      metrics.write(report);
    }
  }
  const double elapsed = training_seconds();
  stop_shadow();  // already asked to stop by the last worker; this joins
  for (std::thread& t : workers) t.join();
  printer.finish();
  {
    std::lock_guard lock(worker_error_mutex_);
    if (worker_error_) std::rethrow_exception(worker_error_);
  }
  if (max_reached_.load()) result.stopped_early = true;
  if (diverged_.load()) throw divergence_error(diverged_at_.load());
  // A signal that arrived while the last batches were finishing still counts as a stop.
  if (const int signal = train::received_stop_signal(); signal != 0 && result.stop_signal == 0) {
    result.stop_signal = signal;
    result.stopped_early = total_examples_done() < target_examples();
    result.signal_after_training = !result.stopped_early;
  }

  // The final divergence is the mean of the samples taken while training ran (after the last
  // round the replicas are equal, which says nothing about training).
  const double divergence = divergence_samples > 0 ? divergence_sum / divergence_samples : sample_divergence();
  TrainReport report = make_report("final", elapsed, examples_at_start, rounds(), running_logloss(), divergence);
  report.sync_interval_ms = interval_ms;
  evaluate_now(report);
  if (result.stopped_early && config_.checkpoint_path.empty() && result.stop_signal != 0) {
    config_.checkpoint_path = "shadowsync-interrupted.ckpt";
  }
  if (!config_.checkpoint_path.empty()) write_checkpoint(config_.checkpoint_path);
  result.checkpoint = last_checkpoint_;
  metrics.write(report);
  result.final_report = report;
  // A signal during the final evaluation or checkpoint is not dropped: the run finished its
  // work, and the caller hears about the signal (see stop_signals.hpp).
  if (const int signal = train::received_stop_signal(); signal != 0 && result.stop_signal == 0) {
    result.stop_signal = signal;
    result.signal_after_training = true;
  }
  result.repeated_signals = train::stop_signals_received() > 0 ? train::stop_signals_received() - 1 : 0;
  return result;
}

Trainer::Trainer(TrainConfig config, DataView train, DataView eval)
    : impl_(std::make_unique<Impl>(std::move(config), train, eval)) {}
Trainer::~Trainer() = default;
TrainResult Trainer::run() { return impl_->run(); }
const Model& Trainer::model() const { return impl_->model_; }
const float* Trainer::final_dense() const { return impl_->final_dense_ ? impl_->final_dense_->data() : nullptr; }
const EmbeddingStore& Trainer::embeddings() const { return *impl_->embeddings_; }
std::vector<const float*> Trainer::replicas() const { return impl_->replica_pointers(); }
int Trainer::groups() const { return impl_->groups_; }
int Trainer::threads_per_group() const { return impl_->threads_; }

}  // namespace shadowsync
