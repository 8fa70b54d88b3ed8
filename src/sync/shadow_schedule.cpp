// The shadow methods' background sync (see shadow_schedule.hpp).
#include "shadowsync/sync/shadow_schedule.hpp"

namespace shadowsync {

ShadowSchedule::ShadowSchedule(SyncRule& rule, ShadowSyncOptions options) : synchronizer_(rule, std::move(options)) {}

void ShadowSchedule::start() {
  std::lock_guard lock(mutex_);
  if (finished_) return;  // the last batch is done: no more rounds
  synchronizer_.start();
}

// Under the mutex, so a concurrent request_stop never sees the threads half joined (it waits for
// the join, which never waits for a worker).
void ShadowSchedule::stop() {
  std::lock_guard lock(mutex_);
  synchronizer_.stop();  // joins; rethrows a background thread's error
}

void ShadowSchedule::request_stop() {
  std::lock_guard lock(mutex_);
  finished_ = true;
  if (synchronizer_.running()) synchronizer_.request_stop();
}

}  // namespace shadowsync
