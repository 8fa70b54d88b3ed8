// SyncMethod (names, rule x schedule) and the SyncSchedule strategies (sync_schedule.hpp): which
// schedule each method gets, foreground barrier points and completions against the rule run by
// hand, shadow start/stop round counting, and request_stop keeping rounds from starting.
#include "shadowsync/sync/sync_schedule.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/shadow_sync.hpp"
#include "shadowsync/sync/sync_method.hpp"

namespace shadowsync {
namespace {

TEST(SyncMethod, NamesRoundTripAndSplitIntoRuleAndSchedule) {
  for (const char* name :
       {"s-ma", "s-easgd", "s-bmuf", "s-pa", "fr-ma", "fr-easgd", "fr-bmuf", "fr-pa", "none", "hogwild"}) {
    EXPECT_EQ(SyncMethod::parse(name).name(), name);
  }
  EXPECT_EQ(SyncMethod::parse("s-bmuf").rule, SyncRuleKind::BMUF);
  EXPECT_EQ(SyncMethod::parse("s-bmuf").schedule, SyncScheduleKind::Shadow);
  EXPECT_EQ(SyncMethod::parse("fr-easgd").rule, SyncRuleKind::EASGD);
  EXPECT_EQ(SyncMethod::parse("fr-easgd").schedule, SyncScheduleKind::Foreground);
  EXPECT_EQ(SyncMethod::parse("none").schedule, SyncScheduleKind::Independent);
  EXPECT_EQ(SyncMethod::parse("hogwild").replicas(4), 1);
  EXPECT_EQ(SyncMethod::parse("s-ma").replicas(4), 4);
  EXPECT_TRUE(SyncMethod::ShadowEASGD.has_center());
  EXPECT_FALSE(SyncMethod::ShadowBMUF.has_center());
  EXPECT_FALSE(SyncMethod::None.uses_rule());
  EXPECT_EQ(SyncMethod::parse("s-pa"), SyncMethod::ShadowPA);
  EXPECT_EQ(SyncMethod::parse("s-pa").rule, SyncRuleKind::PA);
  EXPECT_EQ(SyncMethod::parse("fr-pa"), SyncMethod::ForegroundPA);
  EXPECT_EQ(SyncMethod::choices(), "s-ma, s-easgd, s-bmuf, s-pa, fr-ma, fr-easgd, fr-bmuf, fr-pa, none, hogwild");
}

TEST(SyncMethod, AnUnknownNameNamesTheField) {
  try {
    SyncMethod::parse("s-sgd");
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sync: unknown mode 's-sgd'; valid modes: s-ma, s-easgd, s-bmuf, s-pa, fr-ma, fr-easgd, "
                           "fr-bmuf, fr-pa, none, hogwild");
    EXPECT_EQ(e.message([](std::string_view f) { return "--" + std::string(f); }).rfind("--sync: unknown", 0), 0u);
  }
}

struct Replicas {
  Replicas(int groups, size_t n) : n(n) {
    for (int g = 0; g < groups; ++g) {
      buffers.emplace_back(n);
      for (size_t i = 0; i < n; ++i) buffers.back().data()[i] = static_cast<float>(g + 1) * static_cast<float>(i % 7);
      pointers.push_back(buffers.back().data());
    }
  }
  size_t n;
  std::vector<AlignedFloatBuffer> buffers;
  std::vector<float*> pointers;
};

TEST(SyncSchedule, MethodsWithoutBackgroundOrBarriersDoNothing) {
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  for (const SyncMethod& m : {SyncMethod::None, SyncMethod::Hogwild}) {
    auto s = make_sync_schedule(m, nullptr, 2, {});
    s->start();
    EXPECT_EQ(s->stop(), 0u);
    EXPECT_FALSE(s->barrier_after(10));
  }
  // Shadow with one group: nothing to sync in the background.
  auto single = make_sync_schedule(SyncMethod::ShadowMA, &rule, 1, {});
  single->start();
  EXPECT_EQ(single->stop(), 0u);
  EXPECT_FALSE(single->barrier_after(1));
}

TEST(SyncSchedule, ForegroundCallsABarrierEverySyncEveryIterationsAndRunsTheRule) {
  Replicas r(2, 64), expected(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  SyncRule reference(SyncParams::defaults(SyncRuleKind::MA, 2), expected.pointers, expected.n);
  SyncScheduleOptions options;
  options.sync_every = 3;
  auto s = make_sync_schedule(SyncMethod::ForegroundMA, &rule, 2, options);
  std::vector<uint64_t> points;
  for (uint64_t i = 1; i <= 10; ++i) {
    if (s->barrier_after(i)) points.push_back(i);
  }
  EXPECT_EQ(points, (std::vector<uint64_t>{3, 6, 9}));
  EXPECT_TRUE(s->whole_world());
  s->complete_barrier(0, true);
  reference.run_round();
  for (int g = 0; g < 2; ++g) {
    for (size_t i = 0; i < r.n; ++i) ASSERT_EQ(r.pointers[g][i], expected.pointers[g][i]) << g << " " << i;
  }
  // EASGD: each group meets the center on its own.
  SyncRule easgd(SyncParams::defaults(SyncRuleKind::EASGD, 2), r.pointers, r.n);
  EXPECT_FALSE(make_sync_schedule(SyncMethod::ForegroundEASGD, &easgd, 2, options)->whole_world());
}

TEST(SyncSchedule, ShadowCountsTheRoundsOfEachRunAndStopsForGood) {
  Replicas r(2, 4096);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  SyncScheduleOptions options;
  options.interval_ms = 1;
  auto s = make_sync_schedule(SyncMethod::ShadowMA, &rule, 2, options);
  EXPECT_EQ(s->interval_ms(), 1);
  s->start();
  while (s->running_rounds() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const uint64_t first = s->stop();
  EXPECT_GE(first, 3u);
  EXPECT_EQ(s->running_rounds(), 0u);
  EXPECT_EQ(s->stop(), 0u) << "stop() is idempotent";
  s->start();
  while (s->running_rounds() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  s->request_stop();  // the last worker finished: the running rounds end ...
  s->stop();
  s->start();  // ... and none start again
  EXPECT_EQ(s->running_rounds(), 0u);
  EXPECT_EQ(s->stop(), 0u);
}

TEST(SyncSchedule, TimingARoundLeavesTheReplicasAlone) {
  Replicas r(3, 1000);
  std::vector<std::vector<float>> before;
  for (float* p : r.pointers) before.emplace_back(p, p + r.n);
  std::vector<const float*> replicas(r.pointers.begin(), r.pointers.end());
  const double ms = time_one_round_ms(SyncParams::defaults(SyncRuleKind::BMUF, 3), replicas, r.n,
                                      [](int) -> MemoryResource& { return default_memory(); });
  EXPECT_GT(ms, 0.0);
  for (size_t g = 0; g < 3; ++g) EXPECT_EQ(std::vector<float>(r.pointers[g], r.pointers[g] + r.n), before[g]);
}

// Pacing by progress: a round starts only once the progress counter (advanced here by hand, as
// workers would) has moved by progress_per_round since the previous round started. Counts only.
TEST(SyncSchedule, ShadowPacedByProgressRunsOneRoundPerTarget) {
  Replicas r(2, 256);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::PA, 2), r.pointers, r.n);
  SyncScheduleOptions options;
  options.interval_ms = 50;  // replaced by the progress pacing
  auto s = make_sync_schedule(SyncMethod::ShadowPA, &rule, 2, options);
  std::atomic<uint64_t> examples{0};
  s->pace_by_progress(100, [&examples] { return examples.load(); });
  EXPECT_EQ(s->interval_ms(), 0);
  EXPECT_EQ(s->progress_per_round(), 100u);
  auto wait_rounds = [&](uint64_t n) {
    while (s->running_rounds() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  s->start();
  wait_rounds(1);  // the first round starts at once
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s->running_rounds(), 1u) << "no progress, no second round";
  examples = 99;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s->running_rounds(), 1u) << "99 of 100 examples";
  examples = 100;
  wait_rounds(2);
  examples = 450;  // 3.5 targets at once: still one round, the next waits for 550
  wait_rounds(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s->running_rounds(), 3u);
  examples = 550;
  wait_rounds(4);
  EXPECT_EQ(s->stop(), 4u);
}

TEST(SyncSchedule, PaceByProgressRefusesBadArgumentsAndARunningSchedule) {
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  auto s = make_sync_schedule(SyncMethod::ShadowMA, &rule, 2, {});
  auto progress = [] { return uint64_t{0}; };
  EXPECT_THROW(s->pace_by_progress(0, progress), Error);
  EXPECT_THROW(s->pace_by_progress(10, nullptr), Error);
  EXPECT_EQ(s->progress_per_round(), 0u);
  s->start();
  EXPECT_THROW(s->pace_by_progress(10, progress), Error);
  s->stop();
  // Foreground and no-sync schedules ignore it.
  auto fr = make_sync_schedule(SyncMethod::ForegroundMA, &rule, 2, {});
  fr->pace_by_progress(10, progress);
  EXPECT_EQ(fr->progress_per_round(), 0u);
  ShadowSyncOptions bad;
  bad.progress_per_round = 5;
  try {
    ShadowSynchronizer synchronizer(rule, bad);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "shadow sync options: progress_per_round 5 needs a progress counter, got none");
  }
}

}  // namespace
}  // namespace shadowsync
