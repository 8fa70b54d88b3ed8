// GroupRuntime: the worker threads of every group and everything they share: the WorkerGate,
// batch claiming, per-group counters, the first worker error, divergence. The coordinator
// (coordinator.hpp) drives it: start, pause/resume around evaluations and checkpoints, stop,
// join.
//
// Threads and what they touch:
//  - worker (g, w): claims batches of its group's share (an atomic counter), runs
//    ModelWorkspace::train_step on the group's replica (or the one shared replica), its
//    optimizer state and the shared embedding tables (the Hogwild access discipline is in
//    model_workspace.hpp), and bumps its group's counters (relaxed atomics: statistics and
//    progress, ordered for a checkpoint by the gate's pause). At a foreground barrier the last
//    worker to arrive runs the barrier schedule's completion under the gate's mutex.
//  - the coordinator: reads the counters at any time (relaxed); reads parameters and progress
//    for checkpoints only while pause() holds every worker parked.
// Failures: a worker never lets an exception escape: the first one is kept (error()) and every
// worker is asked to stop. The last worker to finish asks the run's background sync to stop, so
// no shadow round starts after the last batch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "shadowsync/model/model.hpp"
#include "shadowsync/train/touched_rows.hpp"
#include "shadowsync/numa/binder.hpp"
#include "shadowsync/train/train_config.hpp"
#include "shadowsync/train/train_report.hpp"
#include "shadowsync/train/train_state.hpp"
#include "train/group_share.hpp"
#include "train/run_sync.hpp"
#include "train/worker_gate.hpp"

namespace shadowsync::train {

class GroupRuntime {
 public:
  // The runtime's counters start from state.progress (a resumed run continues its groups).
  GroupRuntime(const TrainConfig& config, const Model& model, EmbeddingStore& embeddings,
               std::vector<GroupShare> shares, const std::vector<GroupProgressState>& progress,
               int threads_per_group, numa::Binder& binder);
  ~GroupRuntime();  // stops and joins (never leaves a thread running)
  GroupRuntime(const GroupRuntime&) = delete;
  GroupRuntime& operator=(const GroupRuntime&) = delete;

  int groups() const { return groups_; }
  int threads_per_group() const { return threads_; }
  const std::vector<GroupShare>& shares() const { return shares_; }

  // Whether any group has batches left (false for a finished run).
  bool batches_left() const;
  // Starts the workers; `sync` (which must outlive them) decides their barriers, is asked to stop
  // when the last worker finishes and counts the groups' syncs of this run.
  void start(RunSync& sync);
  // Before start(): workers mark the embedding rows of each batch they trained (a background
  // participant reads them; see touched_rows.hpp). nullptr (the default): no marks.
  void set_touched_rows(TouchedRows* touched) { touched_ = touched; }
  // Which replica the groups train: every group the one given (with its optimizer state; a
  // shared-replica warm-up), or each group its own share's again. Only before start() or while
  // paused: the gate's pause orders the change before every worker's next batch.
  void train_one_replica(float* replica, float* optimizer_state);
  void train_own_replicas();
  // Every worker parked (see WorkerGate::pause) / released.
  void pause();
  void resume();
  // Workers park by themselves once `examples` (over all groups) are handed out, and wake the
  // coordinator's wait_finished() once they are trained: the point of the next evaluation or
  // checkpoint, which then happens there, not where a late poll finds the run. UINT64_MAX: none.
  // Set it before start() or while paused; setting it otherwise lifts a hold in force.
  void hold_at(uint64_t examples) { gate_.hold_at(examples); }
  // Asks every worker to stop at its next batch (in turn mode at the next cycle start).
  void request_stop();
  bool stop_requested() const { return stop_.load(); }
  // Waits up to `timeout` for every worker to finish its loop; true when all have. Returns
  // early (false) when the examples trained reach the hold.
  bool wait_finished(std::chrono::milliseconds timeout);
  // Stops (if needed), releases a pause and joins every worker. Idempotent.
  void join();

  // After join(): the first exception a worker ended with (nullptr if none).
  std::exception_ptr error();
  bool diverged() const { return diverged_.load(); }
  uint64_t diverged_at() const { return diverged_at_.load(); }
  bool max_examples_reached() const { return max_reached_.load(); }

  uint64_t examples_done() const;
  uint64_t target_examples() const;  // epochs x rows, or max_examples when smaller
  double loss_sum() const;
  double wait_seconds() const;  // summed over workers
  // Per-group counts (syncs: restored ones plus RunSync::syncs_of); `examples_at_start` per group
  // gives the rates of this run.
  std::vector<GroupReport> group_reports(double elapsed_s) const;
  // The groups' progress (while parked, or after join()).
  std::vector<GroupProgressState> progress() const;

 private:
  TouchedRows* touched_ = nullptr;
  struct alignas(64) GroupCounters {
    std::atomic<uint64_t> next_batch{0};
    std::atomic<uint64_t> batches_done{0};
    std::atomic<uint64_t> examples{0};
    std::atomic<uint64_t> iterations{0};
    std::atomic<double> loss_sum{0};
  };
  void worker(int group, int worker);
  void worker_loop(int group, int worker);
  void worker_finished();
  void wake_coordinator_at_hold();
  uint64_t syncs_of(int group) const;

  const TrainConfig& config_;
  const Model& model_;
  EmbeddingStore& embeddings_;
  std::vector<GroupShare> shares_;
  std::vector<std::pair<float*, float*>> own_replicas_;  // each share's (replica, optimizer state)
  const int groups_;
  const int threads_;
  RunSync* sync_ = nullptr;  // set by start()
  numa::Binder& binder_;
  WorkerGate gate_;

  std::unique_ptr<GroupCounters[]> counters_;
  std::unique_ptr<std::atomic<double>[]> wait_seconds_;  // per worker
  std::vector<uint64_t> examples_at_start_;    // resumed examples do not count in rates
  std::vector<uint64_t> iterations_at_start_;  // restored iteration counts (foreground sync phase)
  std::vector<uint64_t> syncs_at_start_;       // restored sync counts
  std::atomic<bool> stop_{false};
  std::atomic<bool> diverged_{false};
  std::atomic<uint64_t> diverged_at_{0};
  // Examples handed out to workers; max_examples stops claiming at the limit (in turn mode
  // exactly at the same batch every run, so a stopped deterministic run is reproducible).
  std::atomic<uint64_t> claimed_examples_{0};
  std::atomic<bool> max_reached_{false};
  bool parked_ = false;  // coordinator only

  std::vector<std::thread> workers_;
  std::mutex finish_mutex_;
  std::condition_variable finished_;
  int workers_running_ = 0;
  bool hold_reached_ = false;  // under finish_mutex_: the coordinator has a hold to act on
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace shadowsync::train
