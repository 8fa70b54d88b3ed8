// ParticipantSchedule: a SyncSchedule that runs another schedule and, beside it, a
// BackgroundParticipant (background_participant.hpp): start() starts both, stop() stops the inner
// schedule and then the participant, request_stop() reaches both; everything else is the inner
// schedule's. This is how TrainerSetup::participant joins a run without the coordinator knowing.
#pragma once

#include <memory>

#include "shadowsync/sync/sync_schedule.hpp"
#include "shadowsync/train/background_participant.hpp"

namespace shadowsync::train {

class ParticipantSchedule final : public SyncSchedule {
 public:
  // `participant` must outlive the schedule.
  ParticipantSchedule(std::unique_ptr<SyncSchedule> inner, BackgroundParticipant& participant)
      : inner_(std::move(inner)), participant_(participant) {}

  void start() override;
  uint64_t stop() override;
  void request_stop() override;
  bool barrier_after(uint64_t iteration) const override { return inner_->barrier_after(iteration); }
  bool whole_world() const override { return inner_->whole_world(); }
  void complete_barrier(int group, bool whole_world) override { inner_->complete_barrier(group, whole_world); }
  uint64_t running_rounds() const override { return inner_->running_rounds(); }
  int interval_ms() const override { return inner_->interval_ms(); }
  void pace_by_progress(uint64_t per_round, std::function<uint64_t()> progress) override {
    inner_->pace_by_progress(per_round, std::move(progress));
  }
  uint64_t progress_per_round() const override { return inner_->progress_per_round(); }

 private:
  std::unique_ptr<SyncSchedule> inner_;
  BackgroundParticipant& participant_;
};

}  // namespace shadowsync::train
