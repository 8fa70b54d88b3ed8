// WorkerGate implementation (see worker_gate.hpp for the protocol).
#include "train/worker_gate.hpp"

#include <chrono>

namespace shadowsync::train {

WorkerGate::WorkerGate(int groups, int workers_per_group, bool turns)
    : groups_(groups),
      workers_per_group_(workers_per_group),
      turns_(turns),
      active_(groups * workers_per_group),
      active_in_group_(static_cast<size_t>(groups), workers_per_group),
      active_worker_(static_cast<size_t>(groups * workers_per_group), true),
      group_barriers_(static_cast<size_t>(groups)) {}

int WorkerGate::active_workers() const {
  std::lock_guard lock(mutex_);
  return active_;
}

bool WorkerGate::at_cycle_start(int group, int worker) const {
  if (!turns_) return true;
  std::lock_guard lock(mutex_);
  return cycle_start_locked(index(group, worker));
}

bool WorkerGate::cycle_start_locked(int me) const {
  if (turn_ != me) return false;
  for (int i = 0; i < me; ++i) {
    if (active_worker_[static_cast<size_t>(i)]) return false;
  }
  if (world_.arrived > 0) return false;
  for (const Barrier& barrier : group_barriers_) {
    if (barrier.arrived > 0) return false;
  }
  return true;
}

bool WorkerGate::all_parked_locked() const {
  int at_barriers = world_.arrived;
  for (const Barrier& barrier : group_barriers_) at_barriers += barrier.arrived;
  return paused_ + at_barriers + waiting_for_turn_ >= active_;
}

void WorkerGate::park_while_paused_locked(std::unique_lock<std::mutex>& lock, int me) {
  // Turn mode: only the worker that starts a cycle of turns parks, so a pause (and the
  // checkpoint taken in it) always sees a state every run passes through.
  while (pause_requested_.load(std::memory_order_relaxed) && (!turns_ || cycle_start_locked(me))) {
    ++paused_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !pause_requested_.load(std::memory_order_relaxed); });
    --paused_;
  }
}

void WorkerGate::before_batch(int group, int worker) {
  if (!turns_ && !pause_requested_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(mutex_);
  const int me = index(group, worker);
  if (!turns_) {
    park_while_paused_locked(lock, me);
    return;
  }
  // Turn mode: wait for the turn (a pause does not concern a worker without it), then park if
  // this turn starts a cycle and a pause is requested.
  while (turn_ != me) {
    ++waiting_for_turn_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return turn_ == me; });
    --waiting_for_turn_;
  }
  park_while_paused_locked(lock, me);
}

void WorkerGate::pass_turn_locked(int from) {
  const int total = groups_ * workers_per_group_;
  for (int step = 1; step <= total; ++step) {
    const int next = (from + step) % total;
    if (active_worker_[static_cast<size_t>(next)]) {
      turn_ = next;
      changed_.notify_all();
      return;
    }
  }
}

void WorkerGate::after_batch(int group, int worker) {
  if (!turns_) return;
  std::lock_guard lock(mutex_);
  pass_turn_locked(index(group, worker));
}

void WorkerGate::complete_barrier_locked(Barrier& barrier, const std::function<void()>& completion) {
  if (completion) completion();
  barrier.arrived = 0;
  ++barrier.generation;
  changed_.notify_all();
}

double WorkerGate::sync_point(int group, int worker, bool whole_world,
                              const std::function<void()>& completion) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  // In turn mode a worker at a sync point is mid-cycle: it never parks here.
  if (!turns_) park_while_paused_locked(lock, index(group, worker));
  Barrier& barrier = whole_world ? world_ : group_barriers_[static_cast<size_t>(group)];
  const int expected = whole_world ? active_ : active_in_group_[static_cast<size_t>(group)];
  ++barrier.arrived;
  if (barrier.arrived >= expected) {
    complete_barrier_locked(barrier, completion);
    // Turn mode: the sync ran before anyone else's next batch, whatever the scheduling.
    if (turns_) pass_turn_locked(index(group, worker));
  } else {
    if (turns_) pass_turn_locked(index(group, worker));  // let the others reach the barrier
    const uint64_t generation = barrier.generation;
    changed_.notify_all();  // the coordinator may be waiting for everyone to park
    changed_.wait(lock, [&] { return barrier.generation != generation; });
  }
  lock.unlock();
  const std::chrono::duration<double> waited = std::chrono::steady_clock::now() - start;
  return waited.count();
}

void WorkerGate::leave(int group, int worker,
                       const std::function<void(int group, bool whole_world)>& complete) {
  std::lock_guard lock(mutex_);
  const int me = index(group, worker);
  if (!active_worker_[static_cast<size_t>(me)]) return;
  active_worker_[static_cast<size_t>(me)] = false;
  --active_;
  --active_in_group_[static_cast<size_t>(group)];
  if (world_.arrived > 0 && world_.arrived >= active_) {
    complete_barrier_locked(world_, [&] {
      if (complete) complete(group, true);
    });
  }
  Barrier& mine = group_barriers_[static_cast<size_t>(group)];
  if (mine.arrived > 0 && mine.arrived >= active_in_group_[static_cast<size_t>(group)]) {
    complete_barrier_locked(mine, [&] {
      if (complete) complete(group, false);
    });
  }
  if (turns_ && turn_ == me && active_ > 0) pass_turn_locked(me);
  changed_.notify_all();
}

void WorkerGate::pause() {
  std::unique_lock lock(mutex_);
  coordinator_paused_ = true;
  pause_requested_.store(true, std::memory_order_release);
  changed_.notify_all();
  // Turn mode: only the turn holder can run, and it parks only at a cycle start; everyone else
  // then waits for the turn (a count of waiters alone could include a worker just handed the
  // turn and about to run).
  changed_.wait(lock, [&] { return turns_ ? active_ == 0 || paused_ > 0 : all_parked_locked(); });
}

void WorkerGate::resume() {
  std::lock_guard lock(mutex_);
  coordinator_paused_ = false;
  hold_paused_ = false;
  pause_requested_.store(false, std::memory_order_release);
  changed_.notify_all();
}

void WorkerGate::hold_at(uint64_t examples) {
  std::lock_guard lock(mutex_);
  hold_.store(examples, std::memory_order_relaxed);
  if (hold_paused_ && !coordinator_paused_) {
    hold_paused_ = false;
    pause_requested_.store(false, std::memory_order_release);
    changed_.notify_all();
  }
}

bool WorkerGate::pause_if_held(uint64_t claimed) {
  if (claimed < hold_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mutex_);
  // Checked again under the mutex: a hold the coordinator just moved or lifted is not requested.
  if (claimed < hold_.load(std::memory_order_relaxed)) return false;
  if (!pause_requested_.load(std::memory_order_relaxed)) hold_paused_ = true;
  pause_requested_.store(true, std::memory_order_release);
  changed_.notify_all();
  return true;
}

}  // namespace shadowsync::train
