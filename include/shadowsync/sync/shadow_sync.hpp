// ShadowSynchronizer: the background ("shadow") threads of ShadowSync. They run SyncRule rounds
// over the replicas continuously (or one every interval_ms) while Hogwild workers keep training;
// workers never wait for them and never take their locks.
//
// Threads: with threads == 1 one thread runs whole rounds; with threads == T > 1, thread k runs
// slice k of every round (slices are contiguous, cut at multiples of 16 floats so that no two
// threads write the same cache line) and the threads do not wait for one another.
// Control state (stop flag, per-thread counters) is std::atomic; the replicas follow the memory
// model of sync_rule.hpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

struct ShadowSyncOptions {
  // 1: one thread does whole rounds; T > 1: thread k does slice k of every round (T = G, one per
  // group, is what the trainer uses). Must be >= 1.
  int threads = 1;
  // 0: rounds back to back. > 0: a thread starts a round (slice) every interval_ms (start to
  // start; at once when a round took longer). Must be >= 0.
  int interval_ms = 0;
  // Pacing by training progress (a shadow thread that shares a core with workers): > 0: after a
  // round (slice), the thread waits until progress() has advanced by at least progress_per_round
  // since that round started (checked every 100 microseconds, and at once on stop), so the
  // sync rate follows how fast the workers really go. 0: no progress
  // pacing. progress() must be cheap and thread-safe (e.g. a relaxed atomic counter of the
  // examples trained); required when progress_per_round > 0. Combines with interval_ms (both
  // waits apply).
  uint64_t progress_per_round = 0;
  std::function<uint64_t()> progress;
  // Called first thing on each shadow thread with its index k (e.g. to pin it). If it throws,
  // that thread ends and stop() rethrows the exception.
  std::function<void(int thread)> on_thread_start;
};

class ShadowSynchronizer {
 public:
  // `rule` must outlive the synchronizer and must not run rounds elsewhere while it runs.
  // Throws Error on bad options (naming the option).
  ShadowSynchronizer(SyncRule& rule, ShadowSyncOptions options);
  ~ShadowSynchronizer();  // stop(), swallowing a thread's exception
  ShadowSynchronizer(const ShadowSynchronizer&) = delete;
  ShadowSynchronizer& operator=(const ShadowSynchronizer&) = delete;

  // start(), stop() and running() are for the owning thread (not to be called concurrently);
  // the counters may be read from any thread at any time.
  // Starts the threads. Throws Error when already running. May be called again after stop();
  // counters keep counting.
  void start();
  // Asks the threads to stop, lets each finish its current round (slice) and joins them.
  // Idempotent; a no-op when not running. Rethrows (once) the first exception a shadow thread
  // ended with (from on_thread_start or a round).
  void stop();
  bool running() const { return !threads_.empty(); }
  // Asks the threads to stop after their current round (slice) without waiting for them; stop()
  // then joins. Unlike start() and stop(), safe to call from any thread while running (e.g. by
  // the last worker to finish, so that no round starts after the last batch).
  void request_stop();

  // Full rounds done: with several threads, the minimum over threads of the slices each has done.
  uint64_t rounds_completed() const;
  // Seconds spent inside rounds: with several threads (which run concurrently), the largest
  // per-thread total. rounds_completed() / busy_seconds() is the round rate while busy.
  double busy_seconds() const;
  int threads() const { return options_.threads; }

 private:
  struct alignas(64) ThreadCounters {
    std::atomic<uint64_t> slices{0};
    std::atomic<uint64_t> busy_ns{0};
  };
  void loop(int thread);

  SyncRule& rule_;
  ShadowSyncOptions options_;
  std::vector<std::pair<size_t, size_t>> slices_;
  std::unique_ptr<ThreadCounters[]> counters_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_requested_{false};
  std::mutex mutex_;  // guards wake_ (interval waits) and error_
  std::condition_variable wake_;
  std::exception_ptr error_;
};

}  // namespace shadowsync
