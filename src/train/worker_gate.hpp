// WorkerGate: every point where a training worker may wait, behind one mutex, so that the
// coordinator can stop the world safely.
//
// Workers wait in three places: a pause (the coordinator evaluates or checkpoints), a foreground
// sync barrier (all workers, or the workers of one group), and their turn (deterministic mode,
// where workers take strict turns). A pause is requested by the coordinator (pause()) or by a
// worker that reached the hold point the coordinator set (pause_if_held()): the examples where
// the next evaluation or checkpoint is due, so it happens there however late the coordinator
// looks. Because all three are under one mutex, "every active worker
// is waiting" is a stable state the coordinator can observe: a barrier completes only when its
// last worker arrives, and its completion (the sync round) runs under the mutex, so the
// coordinator never sees a quiescent state with a completion still running.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace shadowsync::train {

class WorkerGate {
 public:
  // groups x workers_per_group workers. With `turns`, workers run strictly one at a time in a
  // fixed order (worker w of group g has index g * workers_per_group + w).
  WorkerGate(int groups, int workers_per_group, bool turns);

  // Called by a worker before each batch. Blocks while a pause is in force; in turn mode, also
  // until it is this worker's turn. Cheap (one relaxed load) when neither applies.
  void before_batch(int group, int worker);
  // Turn mode: hands the turn to the next active worker. No-op otherwise. A batch is followed
  // either by after_batch() or by sync_point(), which hands the turn on itself.
  void after_batch(int group, int worker);

  // Foreground sync point. With `whole_world`, waits until every active worker has arrived;
  // otherwise until every active worker of `group` has. The last to arrive runs `completion`
  // (under the gate's mutex) before anyone goes on. In turn mode it hands the turn on: before
  // waiting, or after running the completion, so completions happen in the same order on
  // every run. Returns the seconds spent here.
  double sync_point(int group, int worker, bool whole_world, const std::function<void()>& completion);

  // A worker that has no more batches leaves for good (it no longer counts at barriers, and a
  // barrier it was the last missing worker of completes now).
  void leave(int group, int worker, const std::function<void(int group, bool whole_world)>& complete);

  // Coordinator: waits until every active worker is parked (paused, at a barrier or waiting for
  // its turn), then returns; nothing a worker does changes parameters until resume(). In turn
  // mode the pause takes effect at the next cycle start (see at_cycle_start), so a checkpoint
  // written in it resumes bit-identically.
  void pause();
  // Clears any pause (the coordinator's or a hold's): every parked worker goes on.
  void resume();

  // Coordinator: workers that have claimed `examples` or more request a pause (see
  // pause_if_held); UINT64_MAX: no hold. Setting it outside the coordinator's own pause also
  // lifts a pause a hold requested (workers still past the new hold request it again).
  void hold_at(uint64_t examples);
  uint64_t hold() const { return hold_.load(std::memory_order_relaxed); }
  // Worker, before claiming a batch: when `claimed` (examples handed out so far) has reached the
  // hold, requests a pause as pause() does, without waiting, and returns true; the worker then
  // parks in its next before_batch() (in turn mode at the next cycle start).
  bool pause_if_held(uint64_t claimed);

  int active_workers() const;

  // Turn mode: true when it is this worker's turn, no active worker comes before it in turn
  // order (a new cycle of turns starts here) and no foreground barrier is partly arrived: a
  // state every run passes through, where stopping leaves a checkpoint that resumes exactly.
  // Always true without turns.
  bool at_cycle_start(int group, int worker) const;

 private:
  struct Barrier {
    int arrived = 0;
    uint64_t generation = 0;
  };
  int index(int group, int worker) const { return group * workers_per_group_ + worker; }
  bool all_parked_locked() const;
  bool cycle_start_locked(int me) const;
  void park_while_paused_locked(std::unique_lock<std::mutex>& lock, int me);
  void complete_barrier_locked(Barrier& barrier, const std::function<void()>& completion);
  void pass_turn_locked(int from);

  const int groups_;
  const int workers_per_group_;
  const bool turns_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::atomic<bool> pause_requested_{false};
  std::atomic<uint64_t> hold_{UINT64_MAX};
  bool coordinator_paused_ = false;  // pause() is in force (resume() not yet called)
  bool hold_paused_ = false;         // a hold requested the pause in force
  int active_ = 0;
  std::vector<int> active_in_group_;
  std::vector<bool> active_worker_;
  int paused_ = 0;
  int waiting_for_turn_ = 0;
  int turn_ = 0;
  Barrier world_;
  std::vector<Barrier> group_barriers_;
};

}  // namespace shadowsync::train
