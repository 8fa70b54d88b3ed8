// The foreground sync's barrier points and completions (see barrier_schedule.hpp).
#include "shadowsync/sync/barrier_schedule.hpp"

#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

BarrierSchedule::BarrierSchedule(const SyncMethod& method, SyncRule* rule, int groups, int sync_every) {
  if (!method.foreground() || rule == nullptr) return;
  if (sync_every < 1) throw Error("BarrierSchedule: sync_every must be >= 1, got " + std::to_string(sync_every));
  if (groups < 1) throw Error("BarrierSchedule: groups must be >= 1, got " + std::to_string(groups));
  rule_ = rule;
  every_ = static_cast<uint64_t>(sync_every);
  whole_world_ = method.rule != SyncRuleKind::EASGD;
  groups_ = groups;
  group_syncs_ = std::make_unique<std::atomic<uint64_t>[]>(static_cast<size_t>(groups));
}

void BarrierSchedule::complete_barrier(int group, bool whole_world) {
  if (rule_ == nullptr) return;
  if (whole_world) {
    rule_->run_round();
    for (int g = 0; g < groups_; ++g) group_syncs_[static_cast<size_t>(g)].fetch_add(1, std::memory_order_relaxed);
  } else {
    rule_->exchange_with_center(group);  // fr-easgd: this group alone, with the center
    group_syncs_[static_cast<size_t>(group)].fetch_add(1, std::memory_order_relaxed);
  }
  rounds_.fetch_add(1, std::memory_order_relaxed);
}

uint64_t BarrierSchedule::syncs_of(int group) const {
  if (group < 0 || group >= groups_) return 0;
  return group_syncs_[static_cast<size_t>(group)].load(std::memory_order_relaxed);
}

}  // namespace shadowsync
