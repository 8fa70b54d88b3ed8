// Tests of SyncRule: every rule against the double-precision reference of tests/common/sync_reference.hpp (several
// G, n, chunk sizes, store kinds and consecutive rounds), hand-computed rounds, MA's sum
// invariant, concurrent disjoint ranges, the delta write-back keeping updates made between
// snapshot and write-back, foreground EASGD exchanges, and every error path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "../common/replica_buffers.hpp"
#include "../common/sync_reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {
namespace {

using test::Random;
using test::ReferenceRule;
using Matrix = std::vector<std::vector<double>>;

// G replicas of n floats (replica_buffers.hpp), filled with scaled uniform draws.
class Replicas : public test::ReplicaBuffers {
 public:
  using ReplicaBuffers::ReplicaBuffers;
  void fill(Random& random, double scale = 1.0) {
    fill_with([&] { return static_cast<float>(scale * random.uniform()); });
  }
};

void expect_near_matrix(const Matrix& expected, const Matrix& actual, double tolerance, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(expected[i].size(), actual[i].size()) << what;
    for (size_t e = 0; e < expected[i].size(); ++e) {
      ASSERT_NEAR(expected[i][e], actual[i][e], tolerance * (1.0 + std::abs(expected[i][e])))
          << what << ": replica " << i << " element " << e;
    }
  }
}

void expect_near_vector(const std::vector<double>& expected, const float* actual, double tolerance,
                        const std::string& what) {
  ASSERT_NE(actual, nullptr) << what;
  for (size_t e = 0; e < expected.size(); ++e) {
    ASSERT_NEAR(expected[e], actual[e], tolerance * (1.0 + std::abs(expected[e]))) << what << ": element " << e;
  }
}

// Adds the same pseudo-random perturbation (what workers would do between rounds) to the float
// replicas and to their double mirror.
void perturb(Replicas& replicas, Matrix& mirror, Random& random) {
  for (size_t i = 0; i < mirror.size(); ++i) {
    for (size_t e = 0; e < mirror[i].size(); ++e) {
      const float step = static_cast<float>(0.1 * random.uniform());
      replicas[i][e] += step;
      mirror[i][e] += step;
    }
  }
}

struct Case {
  std::string label;
  SyncParams params;
  int groups;
  size_t n;
  size_t misalign;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

std::string case_name(const testing::TestParamInfo<Case>& info) { return info.param.label; }

std::vector<Case> reference_cases() {
  std::vector<Case> cases;
  struct RuleVariant {
    std::string name;
    SyncRuleKind kind;
    bool defaults;
    bool nesterov;
  };
  const std::vector<RuleVariant> rules = {
      {"ma", SyncRuleKind::MA, true, true},
      {"easgd", SyncRuleKind::EASGD, true, true},
      {"easgd_alpha03", SyncRuleKind::EASGD, false, true},
      {"bmuf", SyncRuleKind::BMUF, true, true},
      {"bmuf_classic", SyncRuleKind::BMUF, true, false},
      {"bmuf_custom", SyncRuleKind::BMUF, false, true},
      {"pa", SyncRuleKind::PA, true, true},
      {"pa_classic", SyncRuleKind::PA, true, false},
  };
  for (const RuleVariant& rule : rules) {
    for (int g : {1, 2, 3, 4}) {
      for (size_t n : {size_t{1}, size_t{15}, size_t{17}, size_t{1000}, size_t{5003}}) {
        for (size_t chunk : {size_t{0}, size_t{48}}) {
          for (bool nt : {false, true}) {
            if (nt && chunk != 0) continue;
            SyncParams p = SyncParams::defaults(rule.kind, g);
            if (!rule.defaults) {
              p.alpha = 0.3f;
              p.block_momentum = 0.5f;
              p.block_lr = 0.7f;
            }
            p.nesterov = rule.nesterov;
            p.chunk_floats = chunk;
            p.nontemporal = nt;
            const size_t misalign = (n % 2 == 1) ? 3 : 0;
            cases.push_back({rule.name + "_g" + std::to_string(g) + "_n" + std::to_string(n) + "_chunk" +
                                 std::to_string(chunk) + (nt ? "_nt" : "") + (misalign ? "_misaligned" : ""),
                             p, g, n, misalign});
          }
        }
      }
    }
  }
  return cases;
}

class RuleMatchesReference : public testing::TestWithParam<Case> {};

TEST_P(RuleMatchesReference, ConsecutiveRoundsWithPerturbations) {
  const Case& c = GetParam();
  Random random(1234 + c.n * 7 + static_cast<uint64_t>(c.groups));
  Replicas replicas(c.groups, c.n, c.misalign);
  replicas.fill(random);
  Matrix mirror = replicas.values();
  SyncRule rule(c.params, replicas.pointers(), c.n);
  ReferenceRule reference(c.params, mirror[0]);
  for (int round = 0; round < 4; ++round) {
    rule.run_round();
    reference.round(mirror);
    const std::string what = "round " + std::to_string(round);
    expect_near_matrix(mirror, replicas.values(), 2e-5, what);
    if (c.params.kind == SyncRuleKind::EASGD) expect_near_vector(reference.center(), rule.center(), 2e-5, what + " center");
    if (c.params.kind == SyncRuleKind::BMUF) {
      expect_near_vector(reference.w_global(), rule.center(), 2e-5, what + " w_global");
      expect_near_vector(reference.delta(), rule.state_buffers().at(1).first, 2e-5, what + " delta");
    }
    perturb(replicas, mirror, random);
  }
}

INSTANTIATE_TEST_SUITE_P(AllRules, RuleMatchesReference, testing::ValuesIn(reference_cases()), case_name);

// Two replicas of one element, worked by hand from the equations.
TEST(SyncRuleByHand, MaAveragesTwoValues) {
  Replicas r(2, 1);
  r[0][0] = 1.0f;
  r[1][0] = 3.0f;
  SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers(), 1);
  rule.run_round();
  EXPECT_FLOAT_EQ(r[0][0], 2.0f);
  EXPECT_FLOAT_EQ(r[1][0], 2.0f);
  EXPECT_EQ(rule.center(), nullptr);
}

TEST(SyncRuleByHand, EasgdUpdatesReplicasInTurn) {
  // c = 1; i = 0: d = 0.5 (1 - 1) = 0; i = 1: d = 0.5 (3 - 1) = 1, w_1 = 2, c = 2.
  Replicas r(2, 1);
  r[0][0] = 1.0f;
  r[1][0] = 3.0f;
  SyncParams p = SyncParams::defaults(SyncRuleKind::EASGD, 2);
  p.alpha = 0.5f;
  SyncRule rule(p, r.pointers(), 1);
  rule.run_round();
  EXPECT_FLOAT_EQ(r[0][0], 1.0f);
  EXPECT_FLOAT_EQ(r[1][0], 2.0f);
  EXPECT_FLOAT_EQ(rule.center()[0], 2.0f);
  // Round 2: i = 0: d = 0.5 (1 - 2) = -0.5, w_0 = 1.5, c = 1.5; i = 1: d = 0.5 (2 - 1.5) = 0.25,
  // w_1 = 1.75, c = 1.75.
  rule.run_round();
  EXPECT_FLOAT_EQ(r[0][0], 1.5f);
  EXPECT_FLOAT_EQ(r[1][0], 1.75f);
  EXPECT_FLOAT_EQ(rule.center()[0], 1.75f);
}

TEST(SyncRuleByHand, BmufNesterovAndClassic) {
  // w_global = 1, delta = 0, eta = 0.5, zeta = 1. Round 1: m = 2, g = 1, delta = 1, w_global = 2,
  // target = 2 + 0.5 * 1 = 2.5 (classic: 2). Round 2 (Nesterov, no training in between):
  // m = 2.5, g = m - (w_global + eta delta) = 2.5 - 2.5 = 0, delta = 0.5, w_global = 2.5,
  // target = 2.5 + 0.25 = 2.75.
  for (bool nesterov : {true, false}) {
    Replicas r(2, 1);
    r[0][0] = 1.0f;
    r[1][0] = 3.0f;
    SyncParams p = SyncParams::defaults(SyncRuleKind::BMUF, 2);
    p.nesterov = nesterov;
    SyncRule rule(p, r.pointers(), 1);
    rule.run_round();
    EXPECT_FLOAT_EQ(r[0][0], nesterov ? 2.5f : 2.0f);
    EXPECT_FLOAT_EQ(r[1][0], nesterov ? 2.5f : 2.0f);
    EXPECT_FLOAT_EQ(rule.center()[0], 2.0f);
    EXPECT_FLOAT_EQ(rule.state_buffers().at(1).first[0], 1.0f);
    if (nesterov) {
      rule.run_round();
      EXPECT_FLOAT_EQ(r[0][0], 2.75f);
      EXPECT_FLOAT_EQ(rule.center()[0], 2.5f);
      EXPECT_FLOAT_EQ(rule.state_buffers().at(1).first[0], 0.5f);
    }
  }
}

TEST(SyncRuleByHand, BmufRoundsWithoutTrainingSettle) {
  // A shadow thread runs rounds back to back, often with no worker update in between: the block
  // momentum must then decay. Replicas {1, 5, 1, 1} have mean 2, one step of +1 from
  // w_global = 1; with eta = 0.75 (G = 4) the model then coasts 1 + 0.75 + 0.75^2 + ... =
  // 1 / (1 - 0.75) = 4 in total and settles at 5, replicas included.
  for (bool nesterov : {true, false}) {
    Replicas r(4, 1);
    r[0][0] = 1.0f;
    r[1][0] = 5.0f;
    r[2][0] = 1.0f;
    r[3][0] = 1.0f;
    SyncParams p = SyncParams::defaults(SyncRuleKind::BMUF, 4);
    p.nesterov = nesterov;
    SyncRule rule(p, r.pointers(), 1);
    for (int i = 0; i < 200; ++i) rule.run_round();
    EXPECT_NEAR(rule.center()[0], 5.0f, 1e-4f) << (nesterov ? "nesterov" : "classic");
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(r[i][0], 5.0f, 1e-4f);
  }
}

TEST(SyncRuleByHand, PaKeepsSqrtGTimesTheMeansProgress) {
  // G = 4: eta = 1 - 1/sqrt(4) = 0.5, zeta = 1, Nesterov. Replicas {1, 2, 3, 6}: w_global = 1
  // (replica 0), mean 3, so the replicas' mean progress is 2. Round 1: g = 3 - 1 = 2, delta = 2,
  // w_global = 3, target = 3 + 0.5 * 2 = 4. Round 2 (no training): m = 4, g = 4 - (3 + 1) = 0,
  // delta = 1, w_global = 4, target = 4.5. Round 3: delta = 0.5, w_global = 4.5, target = 4.75.
  // Settles at 1 + 2 / (1 - 0.5) = 5: sqrt(G) = 2 times the mean's progress (MA: 3, BMUF with
  // eta = 0.75: 9, the plain sum of the deltas: 9).
  Replicas r(4, 1);
  r[0][0] = 1.0f;
  r[1][0] = 2.0f;
  r[2][0] = 3.0f;
  r[3][0] = 6.0f;
  SyncRule rule(SyncParams::defaults(SyncRuleKind::PA, 4), r.pointers(), 1);
  const float expected[] = {4.0f, 4.5f, 4.75f};
  const float expected_delta[] = {2.0f, 1.0f, 0.5f};
  for (int round = 0; round < 3; ++round) {
    rule.run_round();
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(r[i][0], expected[round]) << "round " << round << " replica " << i;
    EXPECT_FLOAT_EQ(rule.state_buffers().at(1).first[0], expected_delta[round]) << "round " << round;
  }
  EXPECT_FLOAT_EQ(rule.center()[0], 4.5f);
  for (int i = 0; i < 200; ++i) rule.run_round();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(r[i][0], 5.0f, 1e-4f);
}

TEST(SyncRuleByHand, RestartTakesTheStateFromTheReplicasAgain) {
  // After rounds that left w_global and the block momentum set (PA, G = 4, as above), every
  // replica is set to 7 (one model again, as at the end of a shared warm-up). restart(): w_global
  // = 7, delta = 0, so rounds without training leave the replicas at 7. Without the restart the
  // old momentum (0.5) and w_global (4.5) would pull them elsewhere. EASGD: the center becomes 7.
  for (SyncRuleKind kind : {SyncRuleKind::PA, SyncRuleKind::BMUF, SyncRuleKind::EASGD}) {
    Replicas r(4, 1);
    r[0][0] = 1.0f;
    r[1][0] = 2.0f;
    r[2][0] = 3.0f;
    r[3][0] = 6.0f;
    SyncRule rule(SyncParams::defaults(kind, 4), r.pointers(), 1);
    rule.run_round();
    rule.run_round();
    for (int i = 0; i < 4; ++i) r[i][0] = 7.0f;
    rule.restart();
    EXPECT_EQ(rule.center()[0], 7.0f) << sync_rule_name(kind);
    if (has_block_momentum(kind)) EXPECT_EQ(rule.state_buffers().at(1).first[0], 0.0f) << sync_rule_name(kind);
    for (int round = 0; round < 5; ++round) rule.run_round();
    for (int i = 0; i < 4; ++i) EXPECT_EQ(r[i][0], 7.0f) << sync_rule_name(kind) << " replica " << i;
  }
}

TEST(SyncParamsDefaults, PaIsBlockMomentumWithGainSqrtG) {
  for (int g : {1, 2, 4, 8, 16}) {
    const SyncParams pa = SyncParams::defaults(SyncRuleKind::PA, g);
    EXPECT_EQ(pa.kind, SyncRuleKind::PA);
    EXPECT_FLOAT_EQ(pa.block_momentum, 1.0f - 1.0f / std::sqrt(static_cast<float>(g))) << g;
    EXPECT_FLOAT_EQ(pa.block_lr, 1.0f);
    EXPECT_TRUE(pa.nesterov);
    EXPECT_NEAR(pa.block_lr / (1.0f - pa.block_momentum), std::sqrt(static_cast<float>(g)), 1e-5f) << g;
  }
  EXPECT_FLOAT_EQ(SyncParams::defaults(SyncRuleKind::PA, 4).block_momentum, 0.5f);
  EXPECT_STREQ(sync_rule_name(SyncRuleKind::PA), "pa");
  EXPECT_TRUE(has_block_momentum(SyncRuleKind::PA));
  EXPECT_TRUE(has_block_momentum(SyncRuleKind::BMUF));
  EXPECT_FALSE(has_block_momentum(SyncRuleKind::MA));
  EXPECT_FALSE(has_block_momentum(SyncRuleKind::EASGD));
}

TEST(SyncParamsDefaults, PaperValues) {
  const SyncParams ma = SyncParams::defaults(SyncRuleKind::MA, 4);
  EXPECT_EQ(ma.kind, SyncRuleKind::MA);
  const SyncParams easgd = SyncParams::defaults(SyncRuleKind::EASGD, 4);
  EXPECT_EQ(easgd.kind, SyncRuleKind::EASGD);
  EXPECT_FLOAT_EQ(easgd.alpha, 0.225f);
  const SyncParams bmuf = SyncParams::defaults(SyncRuleKind::BMUF, 4);
  EXPECT_EQ(bmuf.kind, SyncRuleKind::BMUF);
  EXPECT_FLOAT_EQ(bmuf.block_momentum, 0.75f);
  EXPECT_FLOAT_EQ(bmuf.block_lr, 1.0f);
  EXPECT_TRUE(bmuf.nesterov);
  EXPECT_FLOAT_EQ(SyncParams::defaults(SyncRuleKind::BMUF, 1).block_momentum, 0.0f);
  EXPECT_FLOAT_EQ(SyncParams::defaults(SyncRuleKind::EASGD, 1).alpha, 0.9f);
  EXPECT_STREQ(sync_rule_name(SyncRuleKind::EASGD), "easgd");
}

TEST(SyncRule, MaPreservesSumOverReplicas) {
  for (int g : {2, 3, 4}) {
    Random random(99 + static_cast<uint64_t>(g));
    Replicas r(g, 3001);
    r.fill(random, 10.0);
    SyncRule rule(SyncParams::defaults(SyncRuleKind::MA, g), r.pointers(), r.size());
    Matrix mirror = r.values();
    for (int round = 0; round < 3; ++round) {
      std::vector<double> before(r.size(), 0.0);
      for (size_t i = 0; i < mirror.size(); ++i) {
        for (size_t e = 0; e < r.size(); ++e) before[e] += r[i][e];
      }
      rule.run_round();
      for (size_t e = 0; e < r.size(); ++e) {
        double after = 0;
        for (size_t i = 0; i < mirror.size(); ++i) after += r[i][e];
        ASSERT_NEAR(after, before[e], 1e-5 * (1 + std::abs(before[e]))) << "g " << g << " element " << e;
      }
      perturb(r, mirror, random);
    }
  }
}

TEST(SyncRule, ConcurrentDisjointRangesEqualWholeRound) {
  const size_t n = 4099;
  for (SyncRuleKind kind : {SyncRuleKind::MA, SyncRuleKind::EASGD, SyncRuleKind::BMUF}) {
    Random random(7);
    Replicas whole(3, n), sliced(3, n);
    whole.fill(random);
    for (size_t i = 0; i < 3; ++i) std::copy(whole[i], whole[i] + n, sliced[i]);
    SyncRule whole_rule(SyncParams::defaults(kind, 3), whole.pointers(), n);
    SyncRule sliced_rule(SyncParams::defaults(kind, 3), sliced.pointers(), n);
    const std::vector<size_t> cuts = {0, 37, 1000, 2500, n};
    for (int round = 0; round < 3; ++round) {
      whole_rule.run_round();
      std::vector<std::thread> threads;
      for (size_t k = 0; k + 1 < cuts.size(); ++k) {
        threads.emplace_back([&, k] { sliced_rule.run_range(cuts[k], cuts[k + 1]); });
      }
      for (std::thread& t : threads) t.join();
      expect_near_matrix(whole.values(), sliced.values(), 1e-6, std::string(sync_rule_name(kind)));
      if (kind != SyncRuleKind::MA) {
        expect_near_vector(std::vector<double>(whole_rule.center(), whole_rule.center() + n), sliced_rule.center(),
                           1e-6, "state");
      }
    }
  }
}

// (a) deterministic: values added between snapshot() and apply() (as a worker would) all survive.
TEST(SyncRule, DeltaWriteBackKeepsUpdatesBetweenPhases) {
  for (SyncRuleKind kind : {SyncRuleKind::MA, SyncRuleKind::EASGD, SyncRuleKind::BMUF}) {
    for (int g : {1, 2, 3, 4}) {
      const size_t n = 777;
      const size_t begin = 5, end = 700;  // a sub-range: elements outside it must not change
      Random random(31 + static_cast<uint64_t>(g));
      Replicas r(g, n);
      r.fill(random);
      const Matrix initial = r.values();
      const SyncParams params = SyncParams::defaults(kind, g);
      SyncRule rule(params, r.pointers(), n);
      ReferenceRule reference(params, initial[0]);

      std::vector<float> snap(static_cast<size_t>(g) * (end - begin));
      rule.snapshot(begin, end, snap.data());
      Matrix snapshot_values(static_cast<size_t>(g), std::vector<double>(n));
      for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
        for (size_t e = 0; e < n; ++e) {
          snapshot_values[i][e] = (e >= begin && e < end) ? snap[i * (end - begin) + (e - begin)] : initial[i][e];
          if (e >= begin && e < end) {
            ASSERT_EQ(snapshot_values[i][e], initial[i][e]);
          }
        }
      }
      // The "worker" writes between the phases.
      Matrix added(static_cast<size_t>(g), std::vector<double>(n));
      for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
        for (size_t e = 0; e < n; ++e) {
          const float v = static_cast<float>(0.5 * random.uniform());
          r[i][e] += v;
          added[i][e] = v;
        }
      }
      rule.apply(begin, end, snap.data());

      const Matrix d = reference.deltas(snapshot_values);
      const std::string what = std::string(sync_rule_name(kind)) + " g " + std::to_string(g);
      for (size_t i = 0; i < static_cast<size_t>(g); ++i) {
        for (size_t e = 0; e < n; ++e) {
          const double expected = initial[i][e] + added[i][e] + ((e >= begin && e < end) ? d[i][e] : 0.0);
          ASSERT_NEAR(r[i][e], expected, 2e-6 * (1 + std::abs(expected))) << what << " replica " << i << " element " << e;
        }
      }
    }
  }
}

TEST(SyncRule, ExchangeWithCenterMatchesReference) {
  const size_t n = 1037;
  Random random(5);
  Replicas r(3, n);
  r.fill(random);
  Matrix mirror = r.values();
  const SyncParams params = SyncParams::defaults(SyncRuleKind::EASGD, 3);
  SyncRule rule(params, r.pointers(), n);
  ReferenceRule reference(params, mirror[0]);
  for (int group : {1, 2, 0, 2}) {
    rule.exchange_with_center(group);
    reference.exchange(mirror[static_cast<size_t>(group)]);
    expect_near_matrix(mirror, r.values(), 2e-6, "group " + std::to_string(group));
    expect_near_vector(reference.center(), rule.center(), 2e-6, "center");
  }
}

TEST(SyncRule, StateBuffersPerRule) {
  Replicas r(2, 64);
  SyncRule ma(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers(), 64);
  EXPECT_TRUE(ma.state_buffers().empty());
  SyncRule easgd(SyncParams::defaults(SyncRuleKind::EASGD, 2), r.pointers(), 64);
  ASSERT_EQ(easgd.state_buffers().size(), 1u);
  EXPECT_EQ(easgd.state_buffers()[0].first, easgd.center());
  EXPECT_EQ(easgd.state_buffers()[0].second, 64u);
  SyncRule bmuf(SyncParams::defaults(SyncRuleKind::BMUF, 2), r.pointers(), 64);
  ASSERT_EQ(bmuf.state_buffers().size(), 2u);
  EXPECT_EQ(bmuf.state_buffers()[0].first, bmuf.center());
  EXPECT_EQ(bmuf.groups(), 2);
  EXPECT_EQ(bmuf.size(), 64u);
  EXPECT_EQ(bmuf.params().kind, SyncRuleKind::BMUF);
  EXPECT_EQ(bmuf.chunk_floats() % 16, 0u);
  SyncRule pa(SyncParams::defaults(SyncRuleKind::PA, 2), r.pointers(), 64);
  ASSERT_EQ(pa.state_buffers().size(), 2u);
  EXPECT_EQ(pa.state_buffers()[0].first, pa.center());
  EXPECT_EQ(pa.state_buffers()[1].second, 64u);
}

// Expects `make` to throw Error whose message contains `needle`.
template <typename F>
void expect_error(F make, const std::string& needle) {
  try {
    make();
    ADD_FAILURE() << "no Error thrown; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SyncRuleErrors, BadParameters) {
  Replicas r(2, 32);
  auto with = [&](SyncRuleKind kind, auto change) {
    SyncParams p = SyncParams::defaults(kind, 2);
    change(p);
    return [&r, p] { SyncRule rule(p, r.pointers(), 32); };
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  expect_error([] { SyncParams::defaults(SyncRuleKind::MA, 0); }, "groups");
  expect_error(with(SyncRuleKind::EASGD, [](SyncParams& p) { p.alpha = 0; }), "alpha");
  expect_error(with(SyncRuleKind::EASGD, [](SyncParams& p) { p.alpha = 1.5f; }), "alpha");
  expect_error(with(SyncRuleKind::EASGD, [nan](SyncParams& p) { p.alpha = nan; }), "alpha");
  expect_error(with(SyncRuleKind::BMUF, [](SyncParams& p) { p.block_momentum = 1.0f; }), "block_momentum");
  expect_error(with(SyncRuleKind::BMUF, [](SyncParams& p) { p.block_momentum = -0.1f; }), "block_momentum");
  expect_error(with(SyncRuleKind::BMUF, [](SyncParams& p) { p.block_lr = 0; }), "block_lr");
  expect_error(with(SyncRuleKind::BMUF, [inf](SyncParams& p) { p.block_lr = inf; }), "block_lr");
  expect_error(with(SyncRuleKind::MA, [](SyncParams& p) { p.chunk_floats = 10; }), "chunk_floats");
  expect_error(with(SyncRuleKind::MA, [](SyncParams& p) { p.kind = static_cast<SyncRuleKind>(7); }), "kind");
}

TEST(SyncRuleErrors, BadReplicas) {
  const SyncParams p = SyncParams::defaults(SyncRuleKind::MA, 2);
  AlignedFloatBuffer a(64), b(64);
  expect_error([&] { SyncRule rule(p, {}, 64); }, "at least one replica");
  expect_error([&] { SyncRule rule(p, {a.data(), nullptr}, 64); }, "replica 1 is a null pointer");
  expect_error([&] { SyncRule rule(p, {a.data(), b.data()}, 0); }, "n = 0");
  expect_error([&] { SyncRule rule(p, {a.data(), a.data() + 16}, 32); }, "overlap");
  expect_error([&] { SyncRule rule(p, {a.data(), a.data()}, 8); }, "overlap");
  SyncRule fine(p, {a.data(), a.data() + 32}, 32);  // adjacent, not overlapping
  EXPECT_EQ(fine.groups(), 2);
}

TEST(SyncRuleErrors, BadRangesAndCalls) {
  Replicas r(2, 100);
  SyncRule ma(SyncParams::defaults(SyncRuleKind::MA, 2), r.pointers(), 100);
  std::vector<float> buffer(400);
  expect_error([&] { ma.run_range(50, 40); }, "[50, 40)");
  expect_error([&] { ma.run_range(0, 101); }, "[0, 100)");
  expect_error([&] { ma.snapshot(0, 101, buffer.data()); }, "snapshot");
  expect_error([&] { ma.apply(90, 120, buffer.data()); }, "apply");
  expect_error([&] { ma.snapshot(0, 10, nullptr); }, "null");
  expect_error([&] { ma.apply(0, 10, nullptr); }, "null");
  expect_error([&] { ma.exchange_with_center(0); }, "EASGD");
  SyncRule easgd(SyncParams::defaults(SyncRuleKind::EASGD, 2), r.pointers(), 100);
  expect_error([&] { easgd.exchange_with_center(2); }, "group 2");
  expect_error([&] { easgd.exchange_with_center(-1); }, "group -1");
  ma.run_range(10, 10);  // an empty range is fine and changes nothing
  ma.snapshot(10, 10, nullptr);
}

}  // namespace
}  // namespace shadowsync
