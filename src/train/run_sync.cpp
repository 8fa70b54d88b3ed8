// The sync of one training run (see run_sync.hpp).
#include "train/run_sync.hpp"

#include <exception>

namespace shadowsync::train {

RunSync::RunSync(const SyncMethod& method, SyncRule* rule, int groups, int sync_every, const SyncPacing& pacing,
                 ShadowSyncOptions shadow, BackgroundParticipant* participant, ParticipantAccess access)
    : barriers_(method, rule, groups, sync_every), participant_(participant), access_(std::move(access)),
      pacing_(pacing) {
  // One group has nothing to sync in the background.
  if (method.shadow() && groups > 1 && rule != nullptr) {
    shadow.interval_ms = pacing.interval_ms;
    shadow.progress_per_round = pacing.examples_per_round;
    shadow_ = std::make_unique<ShadowSchedule>(*rule, std::move(shadow));
  }
}

void RunSync::start() {
  started_ = true;
  if (shadow_) shadow_->start();
  if (participant_ == nullptr) return;
  try {
    if (!attached_) {
      participant_->attach(access_);
      attached_ = true;
    }
    participant_->start();
  } catch (...) {
    try {
      if (shadow_) shadow_->stop();
    } catch (...) {
    }
    throw;
  }
}

void RunSync::stop() {
  if (!started_) return;
  std::exception_ptr error;
  try {
    if (shadow_) shadow_->stop();  // rethrows a shadow thread's error (after joining)
  } catch (...) {
    error = std::current_exception();
  }
  try {
    if (participant_ != nullptr && attached_) participant_->stop();
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  if (error) std::rethrow_exception(error);
}

void RunSync::request_stop() {
  if (shadow_) shadow_->request_stop();
  if (participant_ != nullptr) participant_->request_stop();
}

uint64_t RunSync::rounds() const { return barriers_.rounds() + (shadow_ ? shadow_->rounds() : 0); }

uint64_t RunSync::syncs_of(int group) const {
  return barriers_.syncs_of(group) + (shadow_ ? shadow_->rounds() : 0);
}

}  // namespace shadowsync::train
