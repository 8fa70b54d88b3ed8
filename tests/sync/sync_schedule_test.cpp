// SyncMethod (names, rule x schedule) and the two schedules: the foreground BarrierSchedule
// (barrier_schedule.hpp: which methods get barriers, barrier points, completions against the rule
// run by hand, rounds and per-group syncs counted) and the background ShadowSchedule
// (shadow_schedule.hpp: rounds counted over every start..stop, request_stop keeping rounds from
// starting, pacing by progress).
#include "shadowsync/sync/barrier_schedule.hpp"
#include "shadowsync/sync/shadow_schedule.hpp"

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

TEST(BarrierSchedule, MethodsWithoutBarriersNeverCallOne) {
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  const BarrierSchedule none;
  const BarrierSchedule independent(SyncMethod::None, nullptr, 2, 3);
  const BarrierSchedule hogwild(SyncMethod::Hogwild, nullptr, 2, 3);
  const BarrierSchedule shadow(SyncMethod::ShadowMA, &rule, 2, 3);
  const BarrierSchedule no_rule(SyncMethod::ForegroundMA, nullptr, 2, 3);
  for (const BarrierSchedule* s : {&none, &independent, &hogwild, &shadow, &no_rule}) {
    for (uint64_t i = 0; i <= 12; ++i) EXPECT_FALSE(s->barrier_after(i)) << i;
    EXPECT_EQ(s->rounds(), 0u);
    EXPECT_EQ(s->syncs_of(0), 0u);
  }
  // A completion without barriers runs nothing and counts nothing.
  BarrierSchedule idle(SyncMethod::ShadowMA, &rule, 2, 3);
  const std::vector<float> before(r.pointers[1], r.pointers[1] + r.n);
  idle.complete_barrier(0, true);
  EXPECT_EQ(idle.rounds(), 0u);
  EXPECT_EQ(std::vector<float>(r.pointers[1], r.pointers[1] + r.n), before);
}

TEST(BarrierSchedule, CallsABarrierEverySyncEveryIterationsRunsTheRuleAndCountsTheRound) {
  Replicas r(2, 64), expected(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  SyncRule reference(SyncParams::defaults(SyncRuleKind::MA, 2), expected.pointers, expected.n);
  BarrierSchedule s(SyncMethod::ForegroundMA, &rule, 2, 3);
  std::vector<uint64_t> points;
  for (uint64_t i = 1; i <= 10; ++i) {
    if (s.barrier_after(i)) points.push_back(i);
  }
  EXPECT_EQ(points, (std::vector<uint64_t>{3, 6, 9}));
  EXPECT_TRUE(s.whole_world());
  s.complete_barrier(0, true);
  s.complete_barrier(1, true);
  reference.run_round();
  reference.run_round();
  for (int g = 0; g < 2; ++g) {
    for (size_t i = 0; i < r.n; ++i) ASSERT_EQ(r.pointers[g][i], expected.pointers[g][i]) << g << " " << i;
  }
  EXPECT_EQ(s.rounds(), 2u);
  EXPECT_EQ(s.syncs_of(0), 2u) << "a whole round is a sync of every group";
  EXPECT_EQ(s.syncs_of(1), 2u);
  EXPECT_EQ(s.syncs_of(2), 0u) << "no such group";
}

TEST(BarrierSchedule, EasgdMeetsTheCenterOneGroupAtATimeAndCountsThatGroupOnly) {
  Replicas r(2, 64), expected(2, 64);
  SyncRule easgd(SyncParams::defaults(SyncRuleKind::EASGD, 2), r.pointers, r.n);
  SyncRule reference(SyncParams::defaults(SyncRuleKind::EASGD, 2), expected.pointers, expected.n);
  BarrierSchedule s(SyncMethod::ForegroundEASGD, &easgd, 2, 5);
  EXPECT_FALSE(s.whole_world());
  EXPECT_TRUE(s.barrier_after(10));
  EXPECT_FALSE(s.barrier_after(11));
  s.complete_barrier(1, false);
  s.complete_barrier(1, false);
  s.complete_barrier(0, false);
  reference.exchange_with_center(1);
  reference.exchange_with_center(1);
  reference.exchange_with_center(0);
  for (int g = 0; g < 2; ++g) {
    for (size_t i = 0; i < r.n; ++i) ASSERT_EQ(r.pointers[g][i], expected.pointers[g][i]) << g << " " << i;
  }
  EXPECT_EQ(s.rounds(), 3u);
  EXPECT_EQ(s.syncs_of(0), 1u);
  EXPECT_EQ(s.syncs_of(1), 2u);
}

TEST(BarrierSchedule, RefusesAGapUnderOne) {
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  try {
    BarrierSchedule s(SyncMethod::ForegroundMA, &rule, 2, 0);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "BarrierSchedule: sync_every must be >= 1, got 0");
  }
}

void wait_rounds(const ShadowSchedule& s, uint64_t n) {
  while (s.rounds() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(ShadowSchedule, CountsTheRoundsOfEveryRunAndStopsForGood) {
  Replicas r(2, 4096);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  ShadowSyncOptions options;
  options.interval_ms = 1;
  ShadowSchedule s(rule, options);
  EXPECT_EQ(s.rounds(), 0u);
  s.start();
  wait_rounds(s, 3);
  s.stop();
  const uint64_t first = s.rounds();
  EXPECT_GE(first, 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.rounds(), first) << "no round while stopped";
  s.stop();  // idempotent
  EXPECT_EQ(s.rounds(), first);
  s.start();
  wait_rounds(s, first + 1);  // the count goes on over the next run
  s.request_stop();           // the last worker finished: the running rounds end ...
  s.stop();
  const uint64_t second = s.rounds();
  EXPECT_GT(second, first);
  s.start();  // ... and none start again
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.stop();
  EXPECT_EQ(s.rounds(), second);
}

// Pacing by progress: a round starts only once the progress counter (advanced here by hand, as
// workers would) has moved by progress_per_round since the previous round started. Counts only.
TEST(ShadowSchedule, PacedByProgressRunsOneRoundPerTarget) {
  Replicas r(2, 256);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::PA, 2), r.pointers, r.n);
  std::atomic<uint64_t> examples{0};
  ShadowSyncOptions options;
  options.progress_per_round = 100;
  options.progress = [&examples] { return examples.load(); };
  ShadowSchedule s(rule, options);
  s.start();
  wait_rounds(s, 1);  // the first round starts at once
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s.rounds(), 1u) << "no progress, no second round";
  examples = 99;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s.rounds(), 1u) << "99 of 100 examples";
  examples = 100;
  wait_rounds(s, 2);
  examples = 450;  // 3.5 targets at once: still one round, the next waits for 550
  wait_rounds(s, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s.rounds(), 3u);
  examples = 550;
  wait_rounds(s, 4);
  s.stop();
  EXPECT_EQ(s.rounds(), 4u);
}

TEST(ShadowSchedule, RefusesProgressPacingWithoutACounter) {
  Replicas r(2, 64);
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers, r.n);
  ShadowSyncOptions bad;
  bad.progress_per_round = 5;
  try {
    ShadowSchedule s(rule, bad);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "shadow sync options: progress_per_round 5 needs a progress counter, got none");
  }
}

}  // namespace
}  // namespace shadowsync
