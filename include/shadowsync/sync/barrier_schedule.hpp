// BarrierSchedule: the foreground sync, called from inside the workers' loop. After a worker's
// sync_every-th iteration it meets the others at a barrier; the last one to arrive completes it:
// one SyncRule round over every replica, or (EASGD) its group alone with the center. Counts the
// rounds it completed and, per group, the syncs each group took part in.
//
// Contract with the engine: barrier_after() and whole_world() are const and thread-safe (any
// worker, any time). complete_barrier() runs on the last worker to arrive while every other
// participant waits (the engine's WorkerGate serializes completions), so it is the only writer
// of the replicas and the counters at that moment; the counters may be read from any thread.
// A schedule made for a method without barriers (shadow, none, hogwild) never calls one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "shadowsync/sync/sync_method.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

class BarrierSchedule {
 public:
  BarrierSchedule() = default;  // no barriers
  // Barriers every `sync_every` iterations when `method` is a foreground one and `rule` is
  // given (it must outlive the schedule); no barriers otherwise. Throws Error when sync_every < 1
  // or groups < 1 for a foreground method.
  BarrierSchedule(const SyncMethod& method, SyncRule* rule, int groups, int sync_every);

  // After a worker's `iteration`-th batch (counted from 1 per worker): meet at a barrier now?
  bool barrier_after(uint64_t iteration) const { return every_ != 0 && iteration % every_ == 0; }
  // Whether a barrier gathers every worker (true) or only the workers of one group (false, EASGD).
  bool whole_world() const { return whole_world_; }
  // The sync a completed barrier runs: a whole round, or group `group` with the center.
  void complete_barrier(int group, bool whole_world);

  // Barriers completed (each is one round).
  uint64_t rounds() const { return rounds_.load(std::memory_order_relaxed); }
  // Completed barriers group `group` took part in.
  uint64_t syncs_of(int group) const;

 private:
  SyncRule* rule_ = nullptr;
  uint64_t every_ = 0;  // 0: no barriers
  bool whole_world_ = true;
  int groups_ = 0;
  std::atomic<uint64_t> rounds_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> group_syncs_;  // groups_ of them
};

}  // namespace shadowsync
