// RunSync: the sync of one training run as the engine holds it: the foreground barriers (asked
// inside the workers' loop, barrier_schedule.hpp), the background parties (the shadow rounds,
// shadow_schedule.hpp, then a BackgroundParticipant, both BackgroundSync), the pacing decided
// for the run (sync_pacing.hpp), and the run's one count of rounds (read from the schedules that
// run them; nothing else counts).
//
// Threads: start(), stop() and the constructor from the coordinating thread; request_stop()
// from any thread (the last worker to finish); barriers() from the workers (its contract in
// barrier_schedule.hpp); rounds() and syncs_of() from any thread.
#pragma once

#include <cstdint>
#include <memory>

#include "shadowsync/sync/barrier_schedule.hpp"
#include "shadowsync/sync/shadow_schedule.hpp"
#include "shadowsync/sync/sync_method.hpp"
#include "shadowsync/sync/sync_rule.hpp"
#include "shadowsync/train/background_participant.hpp"
#include "train/sync_pacing.hpp"

namespace shadowsync::train {

class RunSync {
 public:
  // Barriers every sync_every iterations for a foreground method; shadow rounds for a shadow
  // method with more than one group, on `shadow.threads` threads, paced by `pacing` (its
  // interval and progress target replace those of `shadow`; `shadow.progress` is the progress
  // counter a progress pacing reads). `rule` (nullptr for none and hogwild) and `participant`
  // (nullptr: none) must outlive the RunSync; `access` is what the participant is attached to
  // (once, at the first start()). Throws Error on bad options before any thread starts.
  RunSync(const SyncMethod& method, SyncRule* rule, int groups, int sync_every, const SyncPacing& pacing,
          ShadowSyncOptions shadow, BackgroundParticipant* participant, ParticipantAccess access);

  BarrierSchedule& barriers() { return barriers_; }
  const SyncPacing& pacing() const { return pacing_; }

  // Starts the background parties: the shadow rounds, then the participant (attached first, on
  // the first call). If the participant cannot start, the shadow rounds are stopped again.
  void start();
  // Stops both (the shadow rounds first), even when the first throws; rethrows the first error.
  // A no-op before the first start().
  void stop();
  // The last worker finished: no background round starts after this (any thread).
  void request_stop();

  // Rounds of this run: completed barriers plus full shadow rounds.
  uint64_t rounds() const;
  // The syncs group `group` took part in during this run (a shadow round counts for every group).
  uint64_t syncs_of(int group) const;

 private:
  BarrierSchedule barriers_;
  std::unique_ptr<ShadowSchedule> shadow_;  // nullptr: no background rounds
  BackgroundParticipant* participant_;
  ParticipantAccess access_;
  SyncPacing pacing_;
  bool attached_ = false;
  bool started_ = false;
};

}  // namespace shadowsync::train
