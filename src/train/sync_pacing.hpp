// SyncPacing: how a run's shadow rounds are paced, decided once, from the config and the plan,
// before training starts; the shadow schedule is made with it, the observer hears it and the
// final report carries it.
#pragma once

#include <cstdint>

#include "shadowsync/numa/plan.hpp"
#include "shadowsync/train/train_config.hpp"

namespace shadowsync::train {

struct SyncPacing {
  // Time pacing: milliseconds from one round's start to the next (0 = not paced by time).
  int interval_ms = 0;
  // Progress pacing: one round per this many iterations of each group (0 = not paced by
  // progress), i.e. per examples_per_round examples trained over all groups.
  int round_iterations = 0;
  uint64_t examples_per_round = 0;
};

// Not a shadow method, or one group (nothing to sync in the background): no pacing.
// sync_interval_ms N: time pacing every N ms (0 = back to back). Auto: back to back when every
// group's shadow thread has a processing unit of its own (helper_on_spare_pu), as in the paper;
// otherwise progress pacing, one round per sync_round_iterations iterations of each group.
SyncPacing choose_sync_pacing(const TrainConfig& config, const numa::Plan& plan);

}  // namespace shadowsync::train
