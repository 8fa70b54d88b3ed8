// Tests of the generator's building blocks: ZipfSampler (both methods) against the exact pmf,
// the rank <-> hex value bijection, and the row sampler's marginals.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "synthetic/rng.hpp"
#include "synthetic/scramble.hpp"
#include "synthetic/schema.hpp"
#include "synthetic/zipf.hpp"

namespace shadowsync::synthetic {
namespace {

std::vector<double> exact_pmf(uint64_t n, double s) {
  std::vector<double> pmf(n);
  double total = 0;
  for (uint64_t k = 1; k <= n; ++k) total += pmf[k - 1] = std::pow(static_cast<double>(k), -s);
  for (double& p : pmf) p /= total;
  return pmf;
}

// Every rank's frequency within 5 binomial standard deviations (+ a small slack) of the pmf.
void expect_matches_pmf(const ZipfSampler& sampler, uint64_t draws, uint64_t seed) {
  const std::vector<double> pmf = exact_pmf(sampler.n(), sampler.exponent());
  std::vector<uint64_t> counts(sampler.n() + 1, 0);
  Rng rng(seed);
  for (uint64_t i = 0; i < draws; ++i) {
    const uint64_t k = sampler.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, sampler.n());
    ++counts[k];
  }
  const double n = static_cast<double>(draws);
  for (uint64_t k = 1; k <= sampler.n(); ++k) {
    const double p = pmf[k - 1];
    const double sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(static_cast<double>(counts[k]), n * p, 5 * sd + 2) << "rank " << k;
  }
}

TEST(ZipfSampler, TableMethodMatchesPmf) {
  expect_matches_pmf(ZipfSampler(30, 1.1), 200000, 1);
  expect_matches_pmf(ZipfSampler(4, 0.7), 100000, 2);
}

TEST(ZipfSampler, RejectionInversionMatchesPmf) {
  // table_limit 0 forces rejection-inversion, here on small n where the pmf is easy to sum.
  expect_matches_pmf(ZipfSampler(30, 1.1, 0), 200000, 3);
  expect_matches_pmf(ZipfSampler(50, 1.0, 0), 200000, 4);  // s = 1: the helpers' limit case
  expect_matches_pmf(ZipfSampler(20, 0.8, 0), 200000, 5);
  expect_matches_pmf(ZipfSampler(1, 1.2, 0), 1000, 6);
}

TEST(ZipfSampler, LargeNHeadProbabilities) {
  // n = 10M, s = 1.15 (like C3): P(1) = 1 / H, P(k <= 100) from the exact partial sums.
  constexpr uint64_t n = 10131227;
  constexpr double s = 1.15;
  double total = 0, head = 0;
  for (uint64_t k = n; k >= 1; --k) {  // small terms first
    total += std::pow(static_cast<double>(k), -s);
  }
  for (uint64_t k = 1; k <= 100; ++k) head += std::pow(static_cast<double>(k), -s);
  const ZipfSampler sampler(n, s);
  Rng rng(9);
  constexpr int draws = 200000;
  int ones = 0, in_head = 0;
  for (int i = 0; i < draws; ++i) {
    const uint64_t k = sampler.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, n);
    ones += k == 1;
    in_head += k <= 100;
  }
  const double p1 = 1 / total, ph = head / total;
  EXPECT_NEAR(ones, draws * p1, 5 * std::sqrt(draws * p1 * (1 - p1)));
  EXPECT_NEAR(in_head, draws * ph, 5 * std::sqrt(draws * ph * (1 - ph)));
}

TEST(ZipfSampler, RejectsBadParameters) {
  EXPECT_THROW(ZipfSampler(0, 1.1), Error);
  EXPECT_THROW(ZipfSampler(10, 0.0), Error);
  EXPECT_THROW(ZipfSampler(10, -1.0), Error);
}

TEST(Scramble, IsABijectionWithExactInverse) {
  Rng rng(11);
  for (int i = 0; i < 100000; ++i) {
    const auto x = static_cast<uint32_t>(rng.next());
    EXPECT_EQ(unmix32(mix32(x)), x);
    EXPECT_EQ(mix32(unmix32(x)), x);
  }
  for (uint32_t x : {0u, 1u, 0xFFFFFFFFu, 0x80000000u}) EXPECT_EQ(unmix32(mix32(x)), x);
  // Ranks round-trip per column, and the same rank gives different values in each column.
  for (uint32_t rank : {1u, 2u, 1000u, 10131227u}) {
    std::set<uint32_t> values;
    for (int c = 0; c < kNumSparse; ++c) {
      EXPECT_EQ(categorical_rank(c, categorical_value(c, rank)), rank);
      values.insert(categorical_value(c, rank));
    }
    EXPECT_EQ(values.size(), static_cast<size_t>(kNumSparse));
  }
}

TEST(Rng, NormalHasUnitMomentsAndUniformIsInRange) {
  Rng rng(5);
  double sum = 0, sum_sq = 0;
  constexpr int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    sum += x;
    sum_sq += x * x;
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_NEAR(sum / n, 0.0, 5 / std::sqrt(n));
  EXPECT_NEAR(sum_sq / n, 1.0, 5 * std::sqrt(2.0 / n));
}

TEST(RowSampler, MarginalsFollowTheSchema) {
  const RowSampler sampler;
  Rng rng(21);
  RawRow row;
  constexpr int n = 40000;
  std::vector<int> numeric_missing(kNumNumeric, 0), cat_missing(kNumSparse, 0);
  int minus_one = 0, other_negative = 0, top_rank_c1 = 0;
  for (int i = 0; i < n; ++i) {
    sampler.sample(rng, row);
    for (int j = 0; j < kNumNumeric; ++j) {
      numeric_missing[j] += row.numeric_missing[j];
      if (row.numeric_missing[j]) continue;
      if (j != 1) {
        ASSERT_GE(row.numeric[j], 0) << "I" << j + 1;
      }
      ASSERT_GE(row.numeric[j], -3);
      if (j == 1) {
        minus_one += row.numeric[j] == -1;
        other_negative += row.numeric[j] < -1;
      }
    }
    for (int c = 0; c < kNumSparse; ++c) {
      cat_missing[c] += row.rank[c] == 0;
      ASSERT_LE(row.rank[c], kCategoricalColumns[c].cardinality);
    }
    top_rank_c1 += row.rank[0] == 1;
  }
  for (int j = 0; j < kNumNumeric; ++j) {
    const double p = kNumericColumns[j].missing;
    EXPECT_NEAR(numeric_missing[j], n * p, 5 * std::sqrt(n * p * (1 - p)) + 1) << "I" << j + 1;
  }
  for (int c = 0; c < kNumSparse; ++c) {
    const double p = kCategoricalColumns[c].missing;
    EXPECT_NEAR(cat_missing[c], n * p, 5 * std::sqrt(n * p * (1 - p)) + 1) << "C" << c + 1;
  }
  // I2: negative with probability 0.1, of which 90 % are -1.
  EXPECT_NEAR(minus_one, n * 0.09, 5 * std::sqrt(n * 0.09));
  EXPECT_NEAR(other_negative, n * 0.01, 5 * std::sqrt(n * 0.01));
  // C1: rank 1 with probability 1 / H(1460, 1.05).
  const double p1 = exact_pmf(1460, 1.05)[0];
  EXPECT_NEAR(top_rank_c1, n * p1, 5 * std::sqrt(n * p1 * (1 - p1)));
}

}  // namespace
}  // namespace shadowsync::synthetic
