// Tests of the optimizer state in a sync round (SyncParams::optimizer_state_sync): sum and mean
// against a double-precision scalar reference for every rule and G = 1, 2, 3 (hand-made
// snapshots through apply_states, and whole rounds through run_range), the delta write-back
// keeping what workers add between snapshot and write-back, the weights untouched by the
// setting, the base b in state_buffers and taken again by restart(), and the refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../common/replica_buffers.hpp"
#include "../common/sync_reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {
namespace {

using test::Random;
using Matrix = std::vector<std::vector<double>>;

const SyncRuleKind kKinds[] = {SyncRuleKind::MA, SyncRuleKind::EASGD, SyncRuleKind::BMUF, SyncRuleKind::PA};

// G buffers of n floats (replicas or accumulators; replica_buffers.hpp).
class Buffers : public test::ReplicaBuffers {
 public:
  using ReplicaBuffers::ReplicaBuffers;
  // Accumulator-like values: positive, in [offset, offset + 1).
  void fill(Random& random, double offset) {
    fill_with([&] { return static_cast<float>(offset + 0.5 * (random.uniform() + 1.0)); });
  }
};

// The double reference of one round over the snapshots s: the target of every accumulator, with
// `base` (sum) advanced.
std::vector<double> reference_target(OptimizerStateSync mode, const Matrix& s, std::vector<double>& base) {
  const size_t n = s[0].size();
  std::vector<double> target(n);
  for (size_t e = 0; e < n; ++e) {
    double t = 0;
    if (mode == OptimizerStateSync::Sum) {
      t = base[e];
      for (const auto& si : s) t += si[e] - base[e];
      base[e] = t;
    } else {
      for (const auto& si : s) t += si[e];
      t /= static_cast<double>(s.size());
    }
    target[e] = t;
  }
  return target;
}

void expect_error(const std::function<void()>& make, const std::string& needle) {
  try {
    make();
    ADD_FAILURE() << "no Error thrown; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::string name_of(SyncRuleKind kind, OptimizerStateSync mode, int g) {
  return std::string(sync_rule_name(kind)) + " " + optimizer_state_sync_name(mode) + " g " + std::to_string(g);
}

// Three rounds of run_range over the whole vector with "training" (positive increments, as
// Adagrad's g^2) between them: every accumulator equals the reference target after each round.
TEST(OptimizerStateSync, RoundsMatchScalarReference) {
  for (SyncRuleKind kind : kKinds) {
    for (OptimizerStateSync mode : {OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
      for (int g : {1, 2, 3}) {
        const size_t n = 300;  // more than one 256-float chunk
        Random random(7 + static_cast<uint64_t>(g));
        Buffers replicas(g, n), states(g, n);
        replicas.fill(random, -0.5);
        for (size_t i = 0; i < static_cast<size_t>(g); ++i) std::memset(states[i], 0, n * sizeof(float));
        SyncParams params = SyncParams::defaults(kind, g);
        params.optimizer_state_sync = mode;
        SyncRule rule(params, replicas.pointers(), n, default_memory(), states.pointers());
        std::vector<double> base(n, 0.0);  // b starts at accumulator 0: zeros
        for (int round = 0; round < 3; ++round) {
          for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
            for (size_t e = 0; e < n; ++e) states[i][e] += static_cast<float>(0.25 * (random.uniform() + 1.0) * (i + 1));
          }
          const Matrix s = states.values();
          const std::vector<double> target = reference_target(mode, s, base);
          rule.run_range(0, n);
          const std::string what = name_of(kind, mode, g) + " round " + std::to_string(round);
          for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
            for (size_t e = 0; e < n; ++e) {
              ASSERT_NEAR(states[i][e], target[e], 2e-6 * (1 + std::abs(target[e])))
                  << what << " state " << i << " element " << e;
            }
          }
        }
      }
    }
  }
}

// Hand-made snapshots through snapshot_states / apply_states over a sub-range, with a worker
// adding to the accumulators between the two phases: what it added survives, elements outside
// the range are untouched, and the values are the reference's.
TEST(OptimizerStateSync, ApplyKeepsUpdatesBetweenPhases) {
  for (SyncRuleKind kind : {SyncRuleKind::MA, SyncRuleKind::PA}) {
    for (OptimizerStateSync mode : {OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
      for (int g : {1, 2, 3}) {
        const size_t n = 555, begin = 3, end = 520;
        Random random(41 + static_cast<uint64_t>(g));
        Buffers replicas(g, n), states(g, n);
        replicas.fill(random, 0.0);
        states.fill(random, 2.0);
        SyncParams params = SyncParams::defaults(kind, g);
        params.optimizer_state_sync = mode;
        SyncRule rule(params, replicas.pointers(), n, default_memory(), states.pointers());
        std::vector<double> base(states[0], states[0] + n);  // b = accumulator 0 at construction
        // Training after the rule was made, then the round's snapshot.
        for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
          for (size_t e = 0; e < n; ++e) states[i][e] += static_cast<float>(0.5 * (random.uniform() + 1.0));
        }
        const Matrix before = states.values();
        const size_t length = end - begin;
        std::vector<float> snap(static_cast<size_t>(g) * length);
        rule.snapshot_states(begin, end, snap.data());
        Matrix s(static_cast<size_t>(g), std::vector<double>(length));
        for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
          for (size_t k = 0; k < length; ++k) {
            ASSERT_EQ(snap[i * length + k], before[i][begin + k]);
            s[i][k] = snap[i * length + k];
          }
        }
        std::vector<double> range_base(base.begin() + begin, base.begin() + end);
        const std::vector<double> target = reference_target(mode, s, range_base);
        Matrix added(static_cast<size_t>(g), std::vector<double>(n));
        for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
          for (size_t e = 0; e < n; ++e) {
            const float v = static_cast<float>(0.25 * (random.uniform() + 1.0));
            states[i][e] += v;
            added[i][e] = v;
          }
        }
        rule.apply_states(begin, end, snap.data());
        const std::string what = name_of(kind, mode, g);
        for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
          for (size_t e = 0; e < n; ++e) {
            const bool inside = e >= begin && e < end;
            const double expected = inside ? target[e - begin] + added[i][e] : before[i][e] + added[i][e];
            ASSERT_NEAR(states[i][e], expected, 2e-6 * (1 + std::abs(expected)))
                << what << " state " << i << " element " << e;
          }
        }
        if (mode == OptimizerStateSync::Sum) {  // b is the target inside the range, unchanged outside
          const auto buffers = rule.state_buffers();
          const float* b = buffers.back().first;
          for (size_t e = 0; e < n; ++e) {
            const double expected = (e >= begin && e < end) ? target[e - begin] : base[e];
            ASSERT_NEAR(b[e], expected, 2e-6 * (1 + std::abs(expected))) << what << " base element " << e;
          }
        }
      }
    }
  }
}

// Sum over G = 2 by hand: b = 1; replicas' accumulators 3 and 4 (increments 2 and 3) -> 6 each.
TEST(OptimizerStateSync, SumByHand) {
  Buffers replicas(2, 1), states(2, 1);
  replicas[0][0] = 1;
  replicas[1][0] = 1;
  states[0][0] = 1;
  states[1][0] = 1;
  SyncParams params = SyncParams::defaults(SyncRuleKind::MA, 2);
  params.optimizer_state_sync = OptimizerStateSync::Sum;
  SyncRule rule(params, replicas.pointers(), 1, default_memory(), states.pointers());
  states[0][0] = 3;
  states[1][0] = 4;
  rule.run_round();
  EXPECT_EQ(states[0][0], 6.0f);
  EXPECT_EQ(states[1][0], 6.0f);
  states[1][0] += 1;  // only replica 1 trains: 6 + 1
  rule.run_round();
  EXPECT_EQ(states[0][0], 7.0f);
  EXPECT_EQ(states[1][0], 7.0f);
  params.optimizer_state_sync = OptimizerStateSync::Mean;
  states[0][0] = 3;
  states[1][0] = 4;
  SyncRule mean(params, replicas.pointers(), 1, default_memory(), states.pointers());
  mean.run_round();
  EXPECT_EQ(states[0][0], 3.5f);
  EXPECT_EQ(states[1][0], 3.5f);
}

// G = 1: a round leaves the accumulator bit-identical (no rounding drift either).
TEST(OptimizerStateSync, OneGroupIsANoOp) {
  for (OptimizerStateSync mode : {OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
    Random random(3);
    Buffers replicas(1, 100), states(1, 100);
    replicas.fill(random, 0.0);
    states.fill(random, 1.0);
    SyncParams params = SyncParams::defaults(SyncRuleKind::PA, 1);
    params.optimizer_state_sync = mode;
    SyncRule rule(params, replicas.pointers(), 100, default_memory(), states.pointers());
    for (size_t e = 0; e < 100; ++e) states[0][e] *= 1.7f;
    const Matrix before = states.values();
    rule.run_round();
    rule.run_round();
    EXPECT_EQ(states.values(), before) << optimizer_state_sync_name(mode);
  }
}

// The setting never changes the weights: replicas after rounds with sum / mean are bit-identical
// to those after the same rounds with none; and none leaves the accumulators alone.
TEST(OptimizerStateSync, WeightsIndependentOfTheSetting) {
  for (SyncRuleKind kind : kKinds) {
    Matrix weights[3];
    int index = 0;
    for (OptimizerStateSync mode : {OptimizerStateSync::None, OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
      Random random(11);
      Buffers replicas(3, 400), states(3, 400);
      replicas.fill(random, -0.5);
      states.fill(random, 1.0);
      const Matrix states_before = states.values();
      SyncParams params = SyncParams::defaults(kind, 3);
      params.optimizer_state_sync = mode;
      SyncRule rule(params, replicas.pointers(), 400, default_memory(), states.pointers());
      for (int round = 0; round < 2; ++round) {
        for (size_t i = 0; i < 3; ++i) replicas[i][i] += 0.5f;
        rule.run_round();
      }
      weights[index++] = replicas.values();
      if (mode == OptimizerStateSync::None) EXPECT_EQ(states.values(), states_before) << sync_rule_name(kind);
      if (mode != OptimizerStateSync::None) EXPECT_NE(states.values(), states_before) << sync_rule_name(kind);
    }
    EXPECT_EQ(weights[1], weights[0]) << sync_rule_name(kind) << " sum";
    EXPECT_EQ(weights[2], weights[0]) << sync_rule_name(kind) << " mean";
  }
}

// b is checkpointed after the rule's own state, only with sum.
TEST(OptimizerStateSync, BaseIsTheLastStateBuffer) {
  Random random(5);
  Buffers replicas(2, 64), states(2, 64);
  replicas.fill(random, 0.0);
  states.fill(random, 1.0);
  auto buffers_of = [&](SyncRuleKind kind, OptimizerStateSync mode) {
    SyncParams params = SyncParams::defaults(kind, 2);
    params.optimizer_state_sync = mode;
    SyncRule rule(params, replicas.pointers(), 64, default_memory(), states.pointers());
    const auto buffers = rule.state_buffers();
    if (mode == OptimizerStateSync::Sum) {
      EXPECT_EQ(buffers.back().second, 64u);
      EXPECT_EQ(std::vector<float>(buffers.back().first, buffers.back().first + 64),
                std::vector<float>(states[0], states[0] + 64));  // b starts at accumulator 0
    }
    return buffers.size();
  };
  EXPECT_EQ(buffers_of(SyncRuleKind::MA, OptimizerStateSync::None), 0u);
  EXPECT_EQ(buffers_of(SyncRuleKind::MA, OptimizerStateSync::Mean), 0u);
  EXPECT_EQ(buffers_of(SyncRuleKind::MA, OptimizerStateSync::Sum), 1u);
  EXPECT_EQ(buffers_of(SyncRuleKind::EASGD, OptimizerStateSync::Sum), 2u);
  EXPECT_EQ(buffers_of(SyncRuleKind::PA, OptimizerStateSync::None), 2u);
  EXPECT_EQ(buffers_of(SyncRuleKind::PA, OptimizerStateSync::Sum), 3u);
}

// restart() (the end of a shared warm-up: every accumulator a copy of accumulator 0) takes b from
// accumulator 0 again: the warm-up's accumulation is counted once, not G times.
TEST(OptimizerStateSync, RestartTakesTheBaseFromStateZero) {
  Buffers replicas(3, 40), states(3, 40);
  for (size_t i = 0; i < 3; ++i) {
    for (size_t e = 0; e < 40; ++e) {
      replicas[i][e] = 1;
      states[i][e] = 0;
    }
  }
  SyncParams params = SyncParams::defaults(SyncRuleKind::PA, 3);
  params.optimizer_state_sync = OptimizerStateSync::Sum;
  SyncRule rule(params, replicas.pointers(), 40, default_memory(), states.pointers());
  for (size_t i = 0; i < 3; ++i) {
    for (size_t e = 0; e < 40; ++e) states[i][e] = 5;  // the shared replica's accumulator, copied
  }
  rule.restart();
  states[2][7] += 1;  // one group trains after the split
  rule.run_round();
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(states[i][0], 5.0f) << i;
    EXPECT_EQ(states[i][7], 6.0f) << i;
  }
}

// fr-easgd's exchange leaves the accumulators alone.
TEST(OptimizerStateSync, ExchangeWithCenterLeavesStates) {
  Random random(9);
  Buffers replicas(2, 64), states(2, 64);
  replicas.fill(random, 0.0);
  states.fill(random, 1.0);
  SyncParams params = SyncParams::defaults(SyncRuleKind::EASGD, 2);
  params.optimizer_state_sync = OptimizerStateSync::Sum;
  SyncRule rule(params, replicas.pointers(), 64, default_memory(), states.pointers());
  const Matrix before = states.values();
  rule.exchange_with_center(1);
  EXPECT_EQ(states.values(), before);
}

TEST(OptimizerStateSyncErrors, Refusals) {
  Buffers replicas(2, 32), states(2, 32);
  SyncParams params = SyncParams::defaults(SyncRuleKind::MA, 2);
  params.optimizer_state_sync = OptimizerStateSync::Sum;
  expect_error([&] { SyncRule rule(params, replicas.pointers(), 32); },
               "sync_optimizer_state sum: the dense optimizer keeps no state to synchronize (sgd); use none");
  params.optimizer_state_sync = OptimizerStateSync::Mean;
  expect_error([&] { SyncRule rule(params, replicas.pointers(), 32); }, "sync_optimizer_state mean");
  expect_error([&] { SyncRule rule(params, replicas.pointers(), 32, default_memory(), {states[0]}); },
               "1 optimizer states for 2 replicas");
  expect_error([&] { SyncRule rule(params, replicas.pointers(), 32, default_memory(), {states[0], nullptr}); },
               "optimizer state 1 is a null pointer");
  expect_error([&] { SyncRule rule(params, replicas.pointers(), 32, default_memory(), {states[0], replicas[1] + 8}); },
               "overlap");
  params.optimizer_state_sync = OptimizerStateSync::None;
  SyncRule none(params, replicas.pointers(), 32);  // none needs no state
  none.run_round();
  EXPECT_EQ(std::string(optimizer_state_sync_name(parse_optimizer_state_sync("sum"))), "sum");
  EXPECT_EQ(parse_optimizer_state_sync("mean"), OptimizerStateSync::Mean);
  EXPECT_EQ(parse_optimizer_state_sync("none"), OptimizerStateSync::None);
  expect_error([] { parse_optimizer_state_sync("max"); }, "sync_optimizer_state must be none, sum or mean, got 'max'");
  EXPECT_EQ(kDefaultOptimizerStateSync, OptimizerStateSync::None);
}

}  // namespace
}  // namespace shadowsync
