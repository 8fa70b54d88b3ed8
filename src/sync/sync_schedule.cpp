// The four sync schedules (see include/shadowsync/sync/sync_schedule.hpp).
#include "shadowsync/sync/sync_schedule.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstring>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/shadow_sync.hpp"

namespace shadowsync {
namespace {

// Shadow: a ShadowSynchronizer started and stopped around every pause.
class ShadowSchedule final : public SyncSchedule {
 public:
  ShadowSchedule(SyncRule& rule, const SyncScheduleOptions& options) : rule_(rule) {
    shadow_options_.threads = options.background_threads;
    shadow_options_.interval_ms = options.interval_ms;
    shadow_options_.on_thread_start = options.on_background_thread_start;
    // Validates the options now, so a bad one fails before any worker starts.
    synchronizer_ = std::make_unique<ShadowSynchronizer>(rule_, shadow_options_);
  }

  void start() override {
    std::lock_guard lock(mutex_);
    if (finished_) return;  // the last batch is done: no more rounds
    rounds_at_start_ = synchronizer_->rounds_completed();
    synchronizer_->start();
  }
  uint64_t stop() override {
    // Under the mutex, so a concurrent request_stop never sees the threads half joined (it
    // waits for the join, which never waits for a worker).
    std::lock_guard lock(mutex_);
    if (!synchronizer_->running()) return 0;
    synchronizer_->stop();  // joins; rethrows a background thread's error
    return synchronizer_->rounds_completed() - rounds_at_start_;
  }
  void request_stop() override {
    std::lock_guard lock(mutex_);
    finished_ = true;
    if (synchronizer_->running()) synchronizer_->request_stop();
  }
  uint64_t running_rounds() const override {
    return synchronizer_->running() ? synchronizer_->rounds_completed() - rounds_at_start_ : 0;
  }
  int interval_ms() const override { return shadow_options_.interval_ms; }
  void pace_by_progress(uint64_t per_round, std::function<uint64_t()> progress) override {
    std::lock_guard lock(mutex_);
    if (synchronizer_->running()) throw Error("SyncSchedule::pace_by_progress: the shadow threads are running");
    if (per_round == 0 || !progress) {
      throw Error("SyncSchedule::pace_by_progress: needs a progress function and per_round > 0");
    }
    ShadowSyncOptions options = shadow_options_;
    options.interval_ms = 0;
    options.progress_per_round = per_round;
    options.progress = std::move(progress);
    synchronizer_ = std::make_unique<ShadowSynchronizer>(rule_, options);
    shadow_options_ = std::move(options);
  }
  uint64_t progress_per_round() const override { return shadow_options_.progress_per_round; }

 private:
  SyncRule& rule_;
  ShadowSyncOptions shadow_options_;
  std::unique_ptr<ShadowSynchronizer> synchronizer_;
  // Guards start against request_stop from the last worker: once finished_, no round starts.
  std::mutex mutex_;
  bool finished_ = false;
  uint64_t rounds_at_start_ = 0;
};

// Foreground: every sync_every iterations of a worker, a barrier whose last arrival syncs.
class ForegroundSchedule final : public SyncSchedule {
 public:
  ForegroundSchedule(SyncRule& rule, const SyncMethod& method, int sync_every)
      : rule_(rule), whole_world_(method.rule != SyncRuleKind::EASGD), sync_every_(static_cast<uint64_t>(sync_every)) {}

  bool barrier_after(uint64_t iteration) const override { return iteration % sync_every_ == 0; }
  bool whole_world() const override { return whole_world_; }
  void complete_barrier(int group, bool whole_world) override {
    if (whole_world) {
      rule_.run_round();
    } else {
      rule_.exchange_with_center(group);  // fr-easgd: this group alone, with the center
    }
  }

 private:
  SyncRule& rule_;
  const bool whole_world_;
  const uint64_t sync_every_;
};

// Independent and SharedReplica (and Shadow with one replica): nothing to run.
class NoSyncSchedule final : public SyncSchedule {};

}  // namespace

std::unique_ptr<SyncSchedule> make_sync_schedule(const SyncMethod& method, SyncRule* rule, int groups,
                                                 const SyncScheduleOptions& options) {
  if (method.shadow() && groups > 1 && rule != nullptr) return std::make_unique<ShadowSchedule>(*rule, options);
  if (method.foreground() && rule != nullptr) return std::make_unique<ForegroundSchedule>(*rule, method, options.sync_every);
  return std::make_unique<NoSyncSchedule>();
}

double time_one_round_ms(const SyncParams& params, const std::vector<const float*>& replicas, size_t n,
                         const std::function<MemoryResource&(int replica)>& memory_for) {
  std::vector<AlignedFloatBuffer> scratch;
  std::vector<float*> pointers;
  for (size_t r = 0; r < replicas.size(); ++r) {
    scratch.emplace_back(n, memory_for(static_cast<int>(r)));
    std::memcpy(scratch.back().data(), replicas[r], n * sizeof(float));
    pointers.push_back(scratch.back().data());
  }
  SyncRule probe(params, pointers, n, memory_for(0));
  const auto start = std::chrono::steady_clock::now();
  probe.run_round();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace shadowsync
