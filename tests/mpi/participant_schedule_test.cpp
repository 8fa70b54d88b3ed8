// Tests of the engine's extension point for the inter-host sync (src/train/participant_schedule
// and TrainerSetup::participant): the participant starts after and stops after the inner
// schedule, hears request_stop, errors of either are rethrown after both stopped; a Trainer run
// attaches the participant to its replicas and tables and starts / stops it once. (Kept beside
// the mpi tests, its one user; it mirrors src/train and may move to tests/train.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/trainer.hpp"
#include "train/participant_schedule.hpp"

namespace shadowsync {
namespace {

struct Log {
  std::vector<std::string> calls;
};

class RecordingSchedule : public SyncSchedule {
 public:
  RecordingSchedule(Log& log, bool fail_stop) : log_(log), fail_stop_(fail_stop) {}
  void start() override { log_.calls.push_back("schedule.start"); }
  uint64_t stop() override {
    log_.calls.push_back("schedule.stop");
    if (fail_stop_) throw Error("schedule failed");
    return 7;
  }
  void request_stop() override { log_.calls.push_back("schedule.request_stop"); }
  bool barrier_after(uint64_t iteration) const override { return iteration % 3 == 0; }
  int interval_ms() const override { return 12; }

 private:
  Log& log_;
  bool fail_stop_;
};

class RecordingParticipant : public BackgroundParticipant {
 public:
  explicit RecordingParticipant(Log& log, bool fail_stop = false) : log_(log), fail_stop_(fail_stop) {}
  void attach(const ParticipantAccess& access) override {
    log_.calls.push_back("participant.attach");
    access_ = access;
  }
  void start() override { log_.calls.push_back("participant.start"); }
  void stop() override {
    log_.calls.push_back("participant.stop");
    if (fail_stop_) throw Error("participant failed");
  }
  void request_stop() override { log_.calls.push_back("participant.request_stop"); }
  ParticipantAccess access_;

 private:
  Log& log_;
  bool fail_stop_;
};

TEST(ParticipantSchedule, RunsTheParticipantBesideTheInnerSchedule) {
  Log log;
  RecordingParticipant participant(log);
  train::ParticipantSchedule schedule(std::make_unique<RecordingSchedule>(log, false), participant);
  schedule.start();
  schedule.request_stop();
  EXPECT_EQ(schedule.stop(), 7u);
  EXPECT_TRUE(schedule.barrier_after(6));
  EXPECT_FALSE(schedule.barrier_after(7));
  EXPECT_EQ(schedule.interval_ms(), 12);
  EXPECT_EQ(log.calls, (std::vector<std::string>{"schedule.start", "participant.start", "schedule.request_stop",
                                                 "participant.request_stop", "schedule.stop", "participant.stop"}));
}

TEST(ParticipantSchedule, StopsBothAndRethrowsTheFirstError) {
  Log log;
  RecordingParticipant participant(log, true);
  train::ParticipantSchedule schedule(std::make_unique<RecordingSchedule>(log, true), participant);
  schedule.start();
  try {
    schedule.stop();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "schedule failed");
  }
  EXPECT_EQ(log.calls.back(), "participant.stop");
}

TEST(ParticipantSchedule, ATrainerAttachesStartsAndStopsItsParticipantOnce) {
  const std::string tsv = (std::filesystem::temp_directory_path() / "shadowsync_participant_data.tsv").string();
  SyntheticOptions options;
  options.rows = 6000;
  options.seed = 3;
  generate_synthetic_criteo(options, tsv);
  ParseOptions parse;
  parse.hashing = HashingConfig::uniform(512);
  Dataset dataset = Dataset::open(tsv, parse);
  TrainConfig config;
  config.model = ModelConfig::preset("small", parse.hashing);
  config.sync = SyncMethod::parse("s-ma");
  config.topology = "package:2 numa:1 core:2 pu:1";
  config.placement.threads_per_group = 1;
  Log log;
  RecordingParticipant participant(log);
  TrainerSetup setup;
  setup.participant = &participant;
  Trainer trainer(config, dataset.view(), DataView{}, std::move(setup));
  trainer.run();
  ASSERT_GE(log.calls.size(), 4u);
  EXPECT_EQ(log.calls[0], "participant.attach");
  EXPECT_EQ(log.calls[1], "participant.start");
  EXPECT_EQ(log.calls.back(), "participant.stop");
  EXPECT_EQ(std::count(log.calls.begin(), log.calls.end(), "participant.start"), 1);
  EXPECT_GE(std::count(log.calls.begin(), log.calls.end(), "participant.request_stop"), 1);
  ASSERT_EQ(participant.access_.replicas.size(), 2u);
  EXPECT_EQ(participant.access_.replicas[0], trainer.replicas()[0]);
  EXPECT_EQ(participant.access_.dense_floats, trainer.model().layout().total_floats);
  EXPECT_EQ(participant.access_.embeddings, &trainer.embeddings());
  // The workers marked the rows of every batch they trained, and no other row.
  ASSERT_NE(participant.access_.touched_rows, nullptr);
  TouchedRows& touched = *participant.access_.touched_rows;
  const DataView data = dataset.view();
  for (int t = 0; t < kNumSparse; ++t) {
    std::vector<bool> used(trainer.embeddings().rows(t), false);
    for (size_t i = 0; i < data.rows; ++i) used[data.sparse[i * kNumSparse + static_cast<size_t>(t)]] = true;
    for (size_t r = 0; r < used.size(); ++r) {
      EXPECT_EQ(touched.take(t, r), used[r]) << "table " << t << " row " << r;
      EXPECT_FALSE(touched.take(t, r)) << "a taken mark is cleared";
    }
  }
  std::filesystem::remove(tsv);
}

}  // namespace
}  // namespace shadowsync
