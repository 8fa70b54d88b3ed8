// The pacing of a run's shadow rounds (see sync_pacing.hpp).
#include "train/sync_pacing.hpp"

namespace shadowsync::train {

SyncPacing choose_sync_pacing(const TrainConfig& config, const numa::Plan& plan) {
  const auto groups = static_cast<uint64_t>(plan.groups.size());
  if (!config.sync.shadow() || groups <= 1) return {};
  if (config.sync_interval_ms != TrainConfig::kAutoSyncInterval) return SyncPacing{config.sync_interval_ms, 0, 0};
  bool spare = true;
  for (const numa::GroupPlacement& g : plan.groups) spare = spare && g.helper_on_spare_pu;
  if (spare) return {};
  const auto iterations = static_cast<uint64_t>(config.sync_round_iterations);
  return SyncPacing{0, config.sync_round_iterations, iterations * static_cast<uint64_t>(config.batch) * groups};
}

}  // namespace shadowsync::train
