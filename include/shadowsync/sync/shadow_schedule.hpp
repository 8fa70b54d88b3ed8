// ShadowSchedule: the shadow methods' BackgroundSync (background_sync.hpp): a ShadowSynchronizer
// (shadow_sync.hpp) started and stopped around every pause of the workers, which stays stopped
// for good once request_stop() came (the last batch is done). Paced as its options say (time
// interval, training progress, or back to back); the engine decides which, once per run.
// Counts the full rounds run since it was made, over every start..stop.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "shadowsync/sync/background_sync.hpp"
#include "shadowsync/sync/shadow_sync.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

class ShadowSchedule final : public BackgroundSync {
 public:
  // `rule` must outlive the schedule. Throws Error on bad options (before any thread starts).
  ShadowSchedule(SyncRule& rule, ShadowSyncOptions options);

  void start() override;  // a no-op after request_stop()
  void stop() override;
  void request_stop() override;

  // Full rounds completed since the schedule was made (read from any thread, any time).
  uint64_t rounds() const { return synchronizer_.rounds_completed(); }

 private:
  ShadowSynchronizer synchronizer_;
  // Guards start and stop against request_stop from the last worker: once finished_, no round
  // starts, and request_stop never sees the threads half joined.
  std::mutex mutex_;
  bool finished_ = false;
};

}  // namespace shadowsync
