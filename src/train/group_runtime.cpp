// GroupRuntime: the workers' loop, batch claiming, counters and failure capture (see
// group_runtime.hpp for the threads and what they touch).
#include "train/group_runtime.hpp"

#include <algorithm>
#include <cmath>
#include <new>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync::train {

GroupRuntime::GroupRuntime(const TrainConfig& config, const Model& model, EmbeddingStore& embeddings,
                           std::vector<GroupShare> shares, const std::vector<GroupProgressState>& progress,
                           int threads_per_group, numa::Binder& binder)
    : config_(config),
      model_(model),
      embeddings_(embeddings),
      shares_(std::move(shares)),
      groups_(static_cast<int>(shares_.size())),
      threads_(threads_per_group),
      binder_(binder),
      gate_(groups_, threads_, config.deterministic),
      counters_(std::make_unique<GroupCounters[]>(shares_.size())),
      wait_seconds_(std::make_unique<std::atomic<double>[]>(shares_.size() * static_cast<size_t>(threads_))) {
  for (const GroupShare& share : shares_) own_replicas_.emplace_back(share.replica, share.optimizer_state);
  for (int g = 0; g < groups_; ++g) {
    GroupCounters& c = counters_[static_cast<size_t>(g)];
    const GroupProgressState p = static_cast<size_t>(g) < progress.size() ? progress[static_cast<size_t>(g)]
                                                                           : GroupProgressState{};
    c.next_batch = p.batches;
    c.batches_done = p.batches;
    c.examples = p.examples;
    c.iterations = p.iterations;
    examples_at_start_.push_back(p.examples);
    iterations_at_start_.push_back(p.iterations);
    syncs_at_start_.push_back(p.syncs);
  }
  claimed_examples_.store(examples_done());
}

GroupRuntime::~GroupRuntime() { join(); }

bool GroupRuntime::batches_left() const {
  for (int g = 0; g < groups_; ++g) {
    if (counters_[static_cast<size_t>(g)].next_batch.load() < shares_[static_cast<size_t>(g)].total_batches) return true;
  }
  return false;
}

void GroupRuntime::start(RunSync& sync) {
  sync_ = &sync;
  {
    std::lock_guard lock(finish_mutex_);
    workers_running_ = groups_ * threads_;
  }
  workers_.reserve(static_cast<size_t>(groups_ * threads_));
  for (int g = 0; g < groups_; ++g) {
    for (int w = 0; w < threads_; ++w) workers_.emplace_back([this, g, w] { worker(g, w); });
  }
}

void GroupRuntime::train_one_replica(float* replica, float* optimizer_state) {
  for (GroupShare& share : shares_) {
    share.replica = replica;
    share.optimizer_state = optimizer_state;
  }
}

void GroupRuntime::train_own_replicas() {
  for (size_t g = 0; g < shares_.size(); ++g) {
    shares_[g].replica = own_replicas_[g].first;
    shares_[g].optimizer_state = own_replicas_[g].second;
  }
}

void GroupRuntime::pause() {
  gate_.pause();
  parked_ = true;
}

void GroupRuntime::resume() {
  parked_ = false;
  gate_.resume();
}

void GroupRuntime::request_stop() { stop_.store(true); }

bool GroupRuntime::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(finish_mutex_);
  finished_.wait_for(lock, timeout, [&] { return workers_running_ == 0 || hold_reached_; });
  hold_reached_ = false;
  return workers_running_ == 0;
}

void GroupRuntime::wake_coordinator_at_hold() {
  {
    std::lock_guard lock(finish_mutex_);
    hold_reached_ = true;
  }
  finished_.notify_all();
}

void GroupRuntime::join() {
  if (workers_.empty()) return;
  if (!wait_finished(std::chrono::milliseconds(0))) stop_.store(true);
  gate_.hold_at(UINT64_MAX);  // lifts a pause a hold requested
  if (parked_) resume();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

std::exception_ptr GroupRuntime::error() {
  std::lock_guard lock(error_mutex_);
  return error_;
}

uint64_t GroupRuntime::examples_done() const {
  uint64_t total = 0;
  for (int g = 0; g < groups_; ++g) total += counters_[static_cast<size_t>(g)].examples.load(std::memory_order_relaxed);
  return total;
}

uint64_t GroupRuntime::target_examples() const {
  uint64_t total = 0;
  for (const GroupShare& s : shares_) total += s.rows.rows() * static_cast<uint64_t>(config_.epochs);
  if (config_.max_examples > 0) total = std::min(total, config_.max_examples);
  return total;
}

double GroupRuntime::loss_sum() const {
  double loss = 0;
  for (int g = 0; g < groups_; ++g) loss += counters_[static_cast<size_t>(g)].loss_sum.load(std::memory_order_relaxed);
  return loss;
}

double GroupRuntime::wait_seconds() const {
  double waited = 0;
  for (int i = 0; i < groups_ * threads_; ++i) waited += wait_seconds_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
  return waited;
}

uint64_t GroupRuntime::syncs_of(int group) const {
  return syncs_at_start_[static_cast<size_t>(group)] + (sync_ != nullptr ? sync_->syncs_of(group) : 0);
}

std::vector<GroupReport> GroupRuntime::group_reports(double elapsed_s) const {
  std::vector<GroupReport> out;
  for (int g = 0; g < groups_; ++g) {
    const GroupCounters& c = counters_[static_cast<size_t>(g)];
    GroupReport r;
    r.examples = c.examples.load(std::memory_order_relaxed);
    r.iterations = c.iterations.load(std::memory_order_relaxed);
    r.syncs = syncs_of(g);
    const uint64_t trained = r.examples - examples_at_start_[static_cast<size_t>(g)];
    r.examples_per_second = elapsed_s > 0 ? static_cast<double>(trained) / elapsed_s : 0;
    out.push_back(r);
  }
  return out;
}

std::vector<GroupProgressState> GroupRuntime::progress() const {
  std::vector<GroupProgressState> out;
  for (int g = 0; g < groups_; ++g) {
    const GroupCounters& c = counters_[static_cast<size_t>(g)];
    out.push_back({c.batches_done.load(), c.examples.load(), c.iterations.load(), syncs_of(g)});
  }
  return out;
}

// A worker never lets an exception escape its thread: the first one is kept for the
// coordinator to rethrow after every thread is joined, and the others are asked to stop.
void GroupRuntime::worker(int group, int worker) {
  try {
    worker_loop(group, worker);
  } catch (...) {
    std::exception_ptr error = std::current_exception();
    try {
      std::rethrow_exception(error);
    } catch (const Error&) {
    } catch (const std::bad_alloc&) {
      error = std::make_exception_ptr(Error(fmt::format("training worker {}.{}: out of memory ({} {} needs buffers it "
                                                        "could not get)", group, worker, field("batch"), config_.batch)));
    } catch (const std::exception& e) {
      error = std::make_exception_ptr(Error(fmt::format("training worker {}.{} failed: {}", group, worker, e.what())));
    } catch (...) {
      error = std::make_exception_ptr(Error(fmt::format("training worker {}.{} failed", group, worker)));
    }
    {
      std::lock_guard lock(error_mutex_);
      if (!error_) error_ = error;
    }
    stop_.store(true, std::memory_order_relaxed);
  }
  try {
    BarrierSchedule& barriers = sync_->barriers();
    gate_.leave(group, worker, [&barriers](int g, bool world) { barriers.complete_barrier(g, world); });
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
    stop_.store(true, std::memory_order_relaxed);
  }
  worker_finished();
}

void GroupRuntime::worker_finished() {
  std::lock_guard lock(finish_mutex_);
  if (--workers_running_ == 0) sync_->request_stop();
  finished_.notify_all();
}

void GroupRuntime::worker_loop(int group, int worker) {
  binder_.bind_worker(group, worker);
  std::unique_ptr<ModelWorkspace> made;
  try {
    made = std::make_unique<ModelWorkspace>(model_, config_.batch, config_.precision);
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("{} {}: training worker {}.{} cannot get its buffers (out of memory); use a smaller {}",
                            field("batch"), config_.batch, group, worker, field("batch")));
  } catch (const Error& e) {
    throw Error(fmt::format("{} {}: training worker {}.{} cannot get its buffers ({}); use a smaller {}", field("batch"),
                            config_.batch, group, worker, e.marked(), field("batch")));
  }
  ModelWorkspace& workspace = *made;
  GroupShare& share = shares_[static_cast<size_t>(group)];
  GroupCounters& counters = counters_[static_cast<size_t>(group)];
  const bool turns = config_.deterministic;
  const uint64_t batch = static_cast<uint64_t>(config_.batch);
  std::atomic<double>& waited = wait_seconds_[static_cast<size_t>(group * threads_ + worker)];
  BarrierSchedule& barriers = sync_->barriers();
  const bool world = barriers.whole_world();
  // This worker's iterations, after which the schedule may call a barrier. With one worker per
  // group (always so in deterministic mode) they are the group's restored count, so a resumed
  // run syncs at the same iterations as an uninterrupted one.
  uint64_t my_iterations = threads_ == 1 ? iterations_at_start_[static_cast<size_t>(group)] : 0;
  // In turn mode a stop (stop request, max_examples) is taken only at the start of a turn
  // cycle, with no foreground barrier half full, so the checkpoint is a state the uninterrupted
  // run also passes through and resuming from it is bit-identical.
  auto stop_now = [&] {
    if (!stop_.load(std::memory_order_relaxed)) return false;
    return !turns || diverged_.load(std::memory_order_relaxed) || gate_.at_cycle_start(group, worker);
  };

  DataBlock crossing_batch;
  while (!stop_now()) {
    gate_.before_batch(group, worker);
    if (stop_now()) break;
    if (config_.max_examples > 0 && claimed_examples_.load(std::memory_order_relaxed) >= config_.max_examples) {
      max_reached_.store(true, std::memory_order_relaxed);
      stop_.store(true, std::memory_order_relaxed);
      if (stop_now()) break;
    }
    // The next evaluation or checkpoint is due: park until the coordinator has done it and moved
    // the hold on (in turn mode only at a cycle start; other turns train on until it).
    if (gate_.pause_if_held(claimed_examples_.load(std::memory_order_relaxed)) &&
        (!turns || gate_.at_cycle_start(group, worker))) {
      continue;
    }
    const uint64_t b = counters.next_batch.fetch_add(1, std::memory_order_relaxed);
    if (b >= share.total_batches) break;
    const uint64_t begin = (b % share.batches_per_epoch) * batch;
    const uint64_t end = std::min<uint64_t>(begin + batch, share.rows.rows());
    claimed_examples_.fetch_add(end - begin, std::memory_order_relaxed);
    // A batch crossing from one file into the next is copied into this worker's block.
    const DataView rows = share.rows.rows(begin, end, crossing_batch);
    // The batch this worker most likely trains next (workers of a group claim batches in turn, so
    // T further on; exact with one worker): its embedding rows are prefetched during this step's
    // top MLP backward. A wrong guess costs only memory bandwidth.
    DataView next;
    if (const uint64_t nb = b + static_cast<uint64_t>(threads_); nb < share.total_batches) {
      const uint64_t next_begin = (nb % share.batches_per_epoch) * batch;
      next = share.rows.contiguous(next_begin, std::min<uint64_t>(next_begin + batch, share.rows.rows()))
                 .value_or(DataView{});
    }
    const float loss =
        workspace.train_step(rows, share.replica, share.optimizer_state, embeddings_, config_.optimizer, next);
    if (touched_ != nullptr) touched_->mark(rows);
    counters.examples.fetch_add(end - begin, std::memory_order_relaxed);
    if (claimed_examples_.load(std::memory_order_relaxed) >= gate_.hold() && examples_done() >= gate_.hold()) {
      wake_coordinator_at_hold();
    }
    if (!std::isfinite(loss)) {
      diverged_at_.store(examples_done(), std::memory_order_relaxed);
      diverged_.store(true, std::memory_order_relaxed);
      stop_.store(true, std::memory_order_relaxed);
      gate_.after_batch(group, worker);
      break;
    }
    counters.loss_sum.fetch_add(static_cast<double>(loss) * static_cast<double>(end - begin), std::memory_order_relaxed);
    counters.iterations.fetch_add(1, std::memory_order_relaxed);
    counters.batches_done.fetch_add(1, std::memory_order_relaxed);
    if (barriers.barrier_after(++my_iterations)) {
      const double seconds =
          gate_.sync_point(group, worker, world, [&barriers, group, world] { barriers.complete_barrier(group, world); });
      waited.fetch_add(seconds, std::memory_order_relaxed);
    } else {
      gate_.after_batch(group, worker);
    }
  }
}

}  // namespace shadowsync::train
