// RunSync (src/train/run_sync.*) and the pacing decision (src/train/sync_pacing.*): the pacing
// each config and plan get, the run's one count of rounds (barriers and shadow rounds, and the
// syncs of each group), the participant started after and stopped after the shadow rounds,
// request_stop reaching both, errors of either rethrown after both stopped; a Trainer run
// attaches its participant to its replicas and tables and starts / stops it once.
#include <gtest/gtest.h>

#include "../common/error_text.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/trainer.hpp"
#include "train/run_sync.hpp"
#include "train/sync_pacing.hpp"

namespace shadowsync {
namespace {

numa::Plan plan_with(int groups, bool spare) {
  numa::Plan plan;
  for (int g = 0; g < groups; ++g) plan.groups.push_back(numa::GroupPlacement{g, 0, "0", {g}, g, spare});
  plan.threads_per_group = 1;
  return plan;
}

bool operator==(const train::SyncPacing& a, const train::SyncPacing& b) {
  return a.interval_ms == b.interval_ms && a.round_iterations == b.round_iterations &&
         a.examples_per_round == b.examples_per_round;
}

TEST(SyncPacing, IsChosenOnceFromTheMethodTheIntervalAndThePlan) {
  TrainConfig c;  // s-pa, sync_interval_ms auto, sync_round_iterations 4, batch 128
  using P = train::SyncPacing;
  // Auto, a shared core in some group: one round per 4 iterations of each group, in examples.
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(3, false)) == (P{0, 4, 4 * 128 * 3}));
  c.sync_round_iterations = 7;
  c.batch = 10;
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(2, false)) == (P{0, 7, 140}));
  numa::Plan mixed = plan_with(2, true);
  mixed.groups[1].helper_on_spare_pu = false;
  EXPECT_TRUE(train::choose_sync_pacing(c, mixed) == (P{0, 7, 140})) << "one shared core is enough";
  // Auto, a spare processing unit in every group: back to back.
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(2, true)) == (P{}));
  // An explicit interval is time pacing, whatever the plan.
  c.sync_interval_ms = 25;
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(2, false)) == (P{25, 0, 0}));
  c.sync_interval_ms = 0;
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(2, false)) == (P{}));
  // One group (nothing to sync in the background) and the other methods: no pacing.
  c.sync_interval_ms = TrainConfig::kAutoSyncInterval;
  EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(1, false)) == (P{}));
  for (const char* m : {"fr-ma", "fr-easgd", "none", "hogwild"}) {
    c.sync = SyncMethod::parse(m);
    EXPECT_TRUE(train::choose_sync_pacing(c, plan_with(2, false)) == (P{})) << m;
  }
}

struct Replicas {
  Replicas(int groups, size_t n) {
    for (int g = 0; g < groups; ++g) {
      buffers.emplace_back(n);
      for (size_t i = 0; i < n; ++i) buffers.back().data()[i] = static_cast<float>(g + 1) * static_cast<float>(i % 5);
      pointers.push_back(buffers.back().data());
    }
  }
  std::vector<AlignedFloatBuffer> buffers;
  std::vector<float*> pointers;
};

ShadowSyncOptions one_thread() {
  ShadowSyncOptions o;
  o.threads = 1;
  return o;
}

TEST(RunSync, CountsTheBarriersOfAForegroundRun) {
  Replicas r(3, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::EASGD, 3), r.pointers, 64);
  train::RunSync sync(SyncMethod::ForegroundEASGD, &rule, 3, 2, {}, one_thread(), nullptr, {});
  EXPECT_TRUE(sync.barriers().barrier_after(4));
  EXPECT_FALSE(sync.barriers().barrier_after(5));
  sync.start();
  sync.barriers().complete_barrier(2, false);
  sync.barriers().complete_barrier(2, false);
  sync.barriers().complete_barrier(0, false);
  sync.stop();
  EXPECT_EQ(sync.rounds(), 3u);
  EXPECT_EQ(sync.syncs_of(0), 1u);
  EXPECT_EQ(sync.syncs_of(1), 0u);
  EXPECT_EQ(sync.syncs_of(2), 2u);
}

TEST(RunSync, CountsTheShadowRoundsOnceForTheRunAndForEveryGroup) {
  Replicas r(2, 1024);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, 1024);
  const train::SyncPacing pacing{1, 0, 0};
  train::RunSync sync(SyncMethod::ShadowMA, &rule, 2, 10, pacing, one_thread(), nullptr, {});
  EXPECT_FALSE(sync.barriers().barrier_after(10)) << "a shadow method has no barriers";
  EXPECT_EQ(sync.pacing().interval_ms, 1);
  for (int run = 0; run < 2; ++run) {  // two runs, as around an evaluation
    sync.start();
    const uint64_t before = sync.rounds();
    while (sync.rounds() < before + 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    sync.stop();
  }
  const uint64_t rounds = sync.rounds();
  EXPECT_GE(rounds, 4u);
  EXPECT_EQ(sync.syncs_of(0), rounds);
  EXPECT_EQ(sync.syncs_of(1), rounds);
  // One group: nothing runs in the background.
  train::RunSync single(SyncMethod::ShadowMA, &rule, 1, 10, pacing, one_thread(), nullptr, {});
  single.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  single.stop();
  EXPECT_EQ(single.rounds(), 0u);
}

struct Log {
  std::vector<std::string> calls;
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

TEST(RunSync, AttachesTheParticipantOnceAndStartsAndStopsItWithTheRun) {
  Log log;
  RecordingParticipant participant(log);
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, 64);
  ParticipantAccess access{r.pointers, 64, nullptr, nullptr};
  train::RunSync sync(SyncMethod::ShadowMA, &rule, 2, 10, {}, one_thread(), &participant, access);
  sync.stop();
  EXPECT_TRUE(log.calls.empty()) << "nothing to stop before the first start";
  sync.start();
  sync.stop();
  sync.start();
  sync.request_stop();
  sync.stop();
  EXPECT_EQ(log.calls, (std::vector<std::string>{"participant.attach", "participant.start", "participant.stop",
                                                 "participant.start", "participant.request_stop",
                                                 "participant.stop"}));
  EXPECT_EQ(participant.access_.replicas, r.pointers);
}

// A shadow thread that fails as it starts: stop() rethrows its error once, after stopping the
// participant too.
TEST(RunSync, StopsTheParticipantEvenWhenTheShadowRoundsFailedAndRethrowsTheFirstError) {
  Log log;
  RecordingParticipant participant(log, true);
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, 64);
  ShadowSyncOptions failing = one_thread();
  failing.on_thread_start = [](int) { throw Error("shadow thread failed"); };
  train::RunSync sync(SyncMethod::ShadowMA, &rule, 2, 10, {}, failing, &participant, {});
  sync.start();
  try {
    sync.stop();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "shadow thread failed");
  }
  EXPECT_EQ(log.calls.back(), "participant.stop");
  try {
    sync.stop();  // the shadow error was reported once; the participant's now
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "participant failed");
  }
}

// Generated rows (in `tsv`, removed by the caller) and an s-ma run of two groups over them.
struct ParticipantRun {
  std::string tsv;
  Dataset dataset;
  TrainConfig config;
};

ParticipantRun participant_run(const std::string& name, uint64_t rows) {
  const std::string tsv = (std::filesystem::temp_directory_path() / name).string();
  SyntheticOptions options;
  options.rows = rows;
  options.seed = 3;
  generate_synthetic_criteo(options, tsv);
  ParseOptions parse;
  parse.hashing = HashingConfig::uniform(512);
  TrainConfig config;
  config.model = ModelConfig::preset("small", parse.hashing);
  config.sync = SyncMethod::parse("s-ma");
  config.topology = "package:2 numa:1 core:2 pu:1";
  config.placement.threads_per_group = 1;
  return ParticipantRun{tsv, Dataset::open(tsv, parse), config};
}

TEST(RunSync, ATrainerAttachesStartsAndStopsItsParticipantOnce) {
  ParticipantRun run = participant_run("shadowsync_participant_data.tsv", 6000);
  const std::string& tsv = run.tsv;
  Dataset& dataset = run.dataset;
  const TrainConfig& config = run.config;
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

// A participant (several processes) reads every replica from the start: no shared-replica
// warm-up there. By default none; asked for, refused naming the option.
TEST(RunSync, ATrainerWithAParticipantHasNoWarmupAndRefusesOne) {
  ParticipantRun run = participant_run("shadowsync_participant_warmup.tsv", 3000);
  const std::string& tsv = run.tsv;
  Dataset& dataset = run.dataset;
  TrainConfig& config = run.config;
  {
    Log log;
    RecordingParticipant participant(log);
    TrainerSetup setup;
    setup.participant = &participant;
    Trainer trainer(config, dataset.view(), DataView{}, std::move(setup));
    const TrainResult result = trainer.run();
    EXPECT_EQ(result.final_report.sync_warmup_examples, 0u);
    ASSERT_GE(log.calls.size(), 2u);
    EXPECT_EQ(log.calls[1], "participant.start");
  }
  config.sync_warmup = 0.2;
  Log log;
  RecordingParticipant participant(log);
  TrainerSetup setup;
  setup.participant = &participant;
  EXPECT_EQ(test::cli_error_of([&] { Trainer trainer(config, dataset.view(), DataView{}, std::move(setup)); }),
            "--sync-warmup is not available when several processes train one model: their rounds between "
            "processes combine every replica from the start (pass 0, the default there)");
  std::filesystem::remove(tsv);
}

}  // namespace
}  // namespace shadowsync
