// ShadowSynchronizer: starts, paces and stops the shadow threads that run SyncRule rounds (or
// slices of rounds) in the background. Only control state lives here; all of it is atomic or
// guarded by mutex_.
#include "shadowsync/sync/shadow_sync.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

using Clock = std::chrono::steady_clock;

ShadowSynchronizer::ShadowSynchronizer(SyncRule& rule, ShadowSyncOptions options)
    : rule_(rule), options_(std::move(options)) {
  if (options_.threads < 1) {
    throw Error("shadow sync options: threads must be >= 1, got " + std::to_string(options_.threads));
  }
  if (options_.interval_ms < 0) {
    throw Error("shadow sync options: interval_ms must be >= 0, got " + std::to_string(options_.interval_ms));
  }
  if (options_.progress_per_round > 0 && !options_.progress) {
    throw Error("shadow sync options: progress_per_round " + std::to_string(options_.progress_per_round) +
                " needs a progress counter, got none");
  }
  // Slice k = [cut(k), cut(k + 1)), cuts at multiples of 16 floats (one cache line).
  const size_t n = rule_.size();
  const size_t t = static_cast<size_t>(options_.threads);
  auto cut = [&](size_t k) {
    if (k == t) return n;
    return std::min(n, (n * k / t) / 16 * 16);
  };
  for (size_t k = 0; k < t; ++k) slices_.emplace_back(cut(k), cut(k + 1));
  counters_ = std::make_unique<ThreadCounters[]>(t);
}

ShadowSynchronizer::~ShadowSynchronizer() {
  try {
    stop();
  } catch (...) {
    // A shadow thread's error: stop() is where the owner hears about it; a destructor cannot.
  }
}

void ShadowSynchronizer::start() {
  if (running()) throw Error("ShadowSynchronizer::start: already running");
  stop_requested_.store(false, std::memory_order_relaxed);
  try {
    for (int k = 0; k < options_.threads; ++k) threads_.emplace_back([this, k] { loop(k); });
  } catch (const std::system_error& e) {
    stop();
    throw Error(std::string("ShadowSynchronizer::start: cannot start a shadow thread: ") + e.what());
  }
}

void ShadowSynchronizer::request_stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
}

void ShadowSynchronizer::stop() {
  if (running()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_requested_.store(true, std::memory_order_relaxed);
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(error, error_);
  }
  if (error) std::rethrow_exception(error);
}

void ShadowSynchronizer::loop(int thread) {
  ThreadCounters& counters = counters_[static_cast<size_t>(thread)];
  const auto [begin, end] = slices_[static_cast<size_t>(thread)];
  const auto interval = std::chrono::milliseconds(options_.interval_ms);
  const uint64_t per_round = options_.progress_per_round;
  const auto stopping = [this] { return stop_requested_.load(std::memory_order_relaxed); };
  try {
    if (options_.on_thread_start) options_.on_thread_start(thread);
    while (!stop_requested_.load(std::memory_order_relaxed)) {
      const Clock::time_point round_start = Clock::now();
      const uint64_t progress_at_start = per_round > 0 ? options_.progress() : 0;
      rule_.run_range(begin, end);
      const auto busy = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - round_start);
      counters.busy_ns.fetch_add(static_cast<uint64_t>(busy.count()), std::memory_order_relaxed);
      counters.slices.fetch_add(1, std::memory_order_release);
      if (options_.interval_ms > 0) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait_until(lock, round_start + interval, stopping);
      }
      if (per_round > 0) {
        // Polled: the workers that make progress are never asked to signal anything.
        std::unique_lock<std::mutex> lock(mutex_);
        while (!stopping() && options_.progress() - progress_at_start < per_round) {
          wake_.wait_for(lock, std::chrono::microseconds(100), stopping);
        }
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

uint64_t ShadowSynchronizer::rounds_completed() const {
  uint64_t rounds = UINT64_MAX;
  for (int k = 0; k < options_.threads; ++k) {
    rounds = std::min(rounds, counters_[static_cast<size_t>(k)].slices.load(std::memory_order_acquire));
  }
  return rounds;
}

double ShadowSynchronizer::busy_seconds() const {
  uint64_t busy = 0;
  for (int k = 0; k < options_.threads; ++k) {
    busy = std::max(busy, counters_[static_cast<size_t>(k)].busy_ns.load(std::memory_order_relaxed));
  }
  return static_cast<double>(busy) * 1e-9;
}

}  // namespace shadowsync
