// SyncSchedule: when a SyncRule runs during training, as a strategy the engine calls at fixed
// points. The rule says what a sync does (sync_rule.hpp); the schedule says when:
//
//   point                      Shadow                        Foreground              Independent,
//                                                                                    SharedReplica
//   start()  (workers run)     start background rounds       -                       -
//   stop()   (pause / end)     stop and join them            -                       -
//   request_stop() (last       no round starts after it      -                       -
//     worker finished; any thread)
//   barrier_after(i)           false                         i % sync_every == 0     false
//   complete_barrier(g, world) -                             one round (world) or    -
//                                                            group g <-> center
//
// Contract with the engine: start() and stop() come from the coordinating thread, alternately,
// never concurrently; stop() is idempotent and rethrows (once) a background thread's error after
// joining every background thread. complete_barrier() runs on the last worker to arrive at a
// barrier while every other participant waits (the engine's WorkerGate serializes completions),
// so it is the only writer of the replicas at that moment. barrier_after() and whole_world() are
// const and thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "shadowsync/core/memory.hpp"
#include "shadowsync/sync/sync_method.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

struct SyncScheduleOptions {
  int sync_every = 10;         // Foreground: a worker syncs after every sync_every iterations
  int background_threads = 1;  // Shadow: threads per round (see ShadowSyncOptions::threads)
  int interval_ms = 0;         // Shadow: round start to round start (0 = back to back)
  // Shadow: called first on each background thread with its index (e.g. to pin it).
  std::function<void(int thread)> on_background_thread_start;
};

class SyncSchedule {
 public:
  virtual ~SyncSchedule() = default;

  virtual void start() {}
  // Returns the full rounds completed since the matching start().
  virtual uint64_t stop() { return 0; }
  virtual void request_stop() {}

  // After a worker's `iteration`-th batch (counted from 1 per worker): meet at a barrier now?
  virtual bool barrier_after(uint64_t /*iteration*/) const { return false; }
  // Whether a barrier gathers every worker (true) or only the workers of one group (false).
  virtual bool whole_world() const { return true; }
  // The sync a completed barrier runs: a whole round, or group `group` with the center.
  virtual void complete_barrier(int /*group*/, bool /*whole_world*/) {}

  // Rounds run in the background right now (between start() and stop()), for progress reports.
  virtual uint64_t running_rounds() const { return 0; }
  // Shadow: the pacing in force (0 = back to back, also for every other schedule).
  virtual int interval_ms() const { return 0; }

  // Shadow: pace rounds by training progress from now on instead of by time: a background thread
  // starts its next round once `progress()` (e.g. examples trained, a relaxed atomic read) has
  // advanced by `per_round` since its previous round started (see ShadowSyncOptions), and the
  // time interval no longer applies. Only between stop() and start() (or before the first
  // start()); per_round > 0 and a progress function are required. Other schedules ignore it.
  // Throws Error on a bad argument.
  virtual void pace_by_progress(uint64_t /*per_round*/, std::function<uint64_t()> /*progress*/) {}
  // Shadow: the progress pacing in force (0 = none, also for every other schedule).
  virtual uint64_t progress_per_round() const { return 0; }
};

// The schedule of `method`. `rule` is required by Shadow and Foreground (nullptr otherwise) and
// must outlive the schedule. A Shadow method with one replica has nothing to sync in the
// background and gets the no-op schedule. Throws Error for bad options.
std::unique_ptr<SyncSchedule> make_sync_schedule(const SyncMethod& method, SyncRule* rule, int groups,
                                                 const SyncScheduleOptions& options);

// Milliseconds one round of `params` takes over copies of `replicas` (n floats each), each copy
// placed in `memory_for(r)`: the replicas and the rule's state are not touched. Used to pace a
// shadow thread that has no core of its own.
double time_one_round_ms(const SyncParams& params, const std::vector<const float*>& replicas, size_t n,
                         const std::function<MemoryResource&(int replica)>& memory_for);

}  // namespace shadowsync
