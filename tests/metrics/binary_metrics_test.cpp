// Tests of BinaryMetrics: hand-computed log loss / NE / AUC / calibration, ties, degenerate
// cases, stability for large logits, exact merge, and the AUC against a naive O(n^2) count.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"

namespace shadowsync {
namespace {

// Five examples (probability, label):
//   (0.9, 1) (0.8, 0) (0.6, 1) (0.3, 0) (0.3, 1)
// log loss terms: -ln 0.9 = 0.1053605, -ln 0.2 = 1.6094379, -ln 0.6 = 0.5108256,
//                 -ln 0.7 = 0.3566749, -ln 0.3 = 1.2039728; sum 3.7862717, mean 0.7572543.
// mean label 3/5 = 0.6, entropy H(0.6) = 0.6 * 0.5108256 + 0.4 * 0.9162907 = 0.6730117,
// NE = 0.7572543 / 0.6730117 = 1.1251727.
// AUC: positive 0.9 beats both negatives (2), 0.6 beats 0.3 (1), 0.3 ties 0.3 (0.5):
//      3.5 of 3 * 2 = 6 pairs = 0.5833333.
// mean prediction (0.9 + 0.8 + 0.6 + 0.3 + 0.3) / 5 = 0.58, calibration 0.58 / 0.6 = 0.9666667.
const std::vector<float> kProbs = {0.9f, 0.8f, 0.6f, 0.3f, 0.3f};
const std::vector<float> kLabels = {1, 0, 1, 0, 1};

void expect_hand_case(const BinaryMetrics& m) {
  EXPECT_EQ(m.count(), 5u);
  EXPECT_NEAR(m.logloss(), 0.7572543, 2e-7);
  EXPECT_NEAR(m.mean_label(), 0.6, 1e-15);
  EXPECT_NEAR(m.ne(), 1.1251727, 2e-7);
  EXPECT_NEAR(m.auc(), 3.5 / 6.0, 1e-15);
  EXPECT_NEAR(m.mean_prediction(), 0.58, 1e-7);
  EXPECT_NEAR(m.calibration(), 0.58 / 0.6, 1e-7);
}

TEST(BinaryMetrics, HandComputedFromProbabilities) {
  BinaryMetrics m;
  for (size_t i = 0; i < kProbs.size(); ++i) m.add_probability(kProbs[i], kLabels[i]);
  expect_hand_case(m);
}

TEST(BinaryMetrics, HandComputedFromLogits) {
  std::vector<float> logits;
  for (float p : kProbs) logits.push_back(static_cast<float>(std::log(p / (1.0 - p))));
  BinaryMetrics m;
  m.add_logits(logits.data(), kLabels.data(), logits.size());
  expect_hand_case(m);
}

TEST(BinaryMetrics, AllScoresEqualGiveHalfAuc) {
  BinaryMetrics m;
  for (int i = 0; i < 10; ++i) m.add_logit(0.3f, i % 3 == 0 ? 1.0f : 0.0f);
  EXPECT_DOUBLE_EQ(m.auc(), 0.5);
}

TEST(BinaryMetrics, PerfectAndReversedRanking) {
  BinaryMetrics perfect;
  BinaryMetrics reversed;
  for (int i = 0; i < 6; ++i) {
    const float label = i < 3 ? 0.0f : 1.0f;
    perfect.add_logit(static_cast<float>(i), label);
    reversed.add_logit(static_cast<float>(-i), label);
  }
  EXPECT_DOUBLE_EQ(perfect.auc(), 1.0);
  EXPECT_DOUBLE_EQ(reversed.auc(), 0.0);
}

TEST(BinaryMetrics, ConstantBaseRatePredictorHasNeOne) {
  // Labels 1, 0, 0, 0 and p = 0.25 for all: log loss = H(0.25) exactly, so NE = 1.
  BinaryMetrics m;
  for (int i = 0; i < 4; ++i) m.add_probability(0.25f, i == 0 ? 1.0f : 0.0f);
  const double h = -(0.25 * std::log(0.25) + 0.75 * std::log(0.75));  // 0.5623351
  EXPECT_NEAR(m.logloss(), h, 1e-12);
  EXPECT_NEAR(m.ne(), 1.0, 1e-12);
  EXPECT_NEAR(m.calibration(), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(m.auc(), 0.5);
}

TEST(BinaryMetrics, CalibrationOfOverPredictor) {
  // Labels 1, 0 (mean 0.5), predictions 0.9 and 0.7 (mean 0.8): calibration 1.6.
  BinaryMetrics m;
  m.add_probability(0.9f, 1);
  m.add_probability(0.7f, 0);
  EXPECT_NEAR(m.calibration(), 1.6, 1e-7);
}

TEST(BinaryMetrics, StableForLargeLogits) {
  BinaryMetrics m;
  m.add_logit(100.0f, 1);   // loss log1p(e^-100) = 3.72e-44
  m.add_logit(-100.0f, 0);  // same
  m.add_logit(-100.0f, 1);  // loss 100 + 3.72e-44
  m.add_logit(100.0f, 0);   // same
  EXPECT_TRUE(std::isfinite(m.logloss()));
  EXPECT_NEAR(m.logloss(), 50.0, 1e-12);  // (0 + 0 + 100 + 100) / 4
  EXPECT_NEAR(m.mean_prediction(), 0.5, 1e-15);
  EXPECT_DOUBLE_EQ(m.auc(), 0.5);  // one positive above and one below the negatives' scores
  EXPECT_NEAR(logloss_of_logit(100.0, 1.0), std::exp(-100.0), 1e-50);
  EXPECT_NEAR(logloss_of_logit(-1000.0, 1.0), 1000.0, 1e-9);
}

TEST(BinaryMetrics, ProbabilitiesAreClampedForLogLoss) {
  BinaryMetrics m;
  m.add_probability(0.0f, 1);  // -ln(1e-7) = 16.1180957
  m.add_probability(1.0f, 1);  // -ln(1 - 1e-7) = 1e-7
  EXPECT_NEAR(m.logloss(), (-std::log(1e-7) - std::log1p(-1e-7)) / 2, 1e-12);
  EXPECT_NEAR(m.mean_prediction(), 0.5, 1e-15);  // p as given, not clamped
}

TEST(BinaryMetrics, ProbabilityZeroAndOneRankCorrectly) {
  BinaryMetrics m;
  m.add_probability(0.0f, 0);
  m.add_probability(1e-30f, 1);
  m.add_probability(1.0f, 1);
  m.add_probability(1.0f, 0);  // tied with the positive at 1
  // Positive 1e-30 beats the negative at 0 (1), positive 1 beats it (1) and ties the other
  // negative (0.5): 2.5 of 4 pairs.
  EXPECT_DOUBLE_EQ(m.auc(), 2.5 / 4.0);
}

TEST(BinaryMetrics, EmptyAccumulatorIsDefined) {
  const BinaryMetrics m;
  EXPECT_EQ(m.count(), 0u);
  EXPECT_EQ(m.logloss(), 0.0);
  EXPECT_EQ(m.ne(), 0.0);
  EXPECT_EQ(m.auc(), 0.5);
  EXPECT_EQ(m.calibration(), 0.0);
  EXPECT_EQ(m.mean_label(), 0.0);
  EXPECT_EQ(m.mean_prediction(), 0.0);
}

TEST(BinaryMetrics, AllLabelsEqualLeaveNeAndAucUndefined) {
  // Four negatives predicted 0.5: log loss ln 2 = 0.6931472 each, but the base rate is 0, whose
  // entropy is 0, so NE (log loss / entropy) is undefined, as is AUC (no positive/negative pair).
  BinaryMetrics zeros;
  for (int i = 0; i < 4; ++i) zeros.add_probability(0.5f, 0);
  EXPECT_TRUE(zeros.one_class());
  EXPECT_TRUE(std::isnan(zeros.ne()));
  EXPECT_TRUE(std::isnan(zeros.auc()));
  EXPECT_NEAR(zeros.logloss(), std::log(2.0), 1e-12);
  EXPECT_NEAR(zeros.calibration(), 0.5 / 1e-7, 1e-3);  // mean label 0: divided by the floor

  // Three positives with logits 0, 1, 2: log loss (ln 2 + ln(1 + e^-1) + ln(1 + e^-2)) / 3
  // = (0.6931472 + 0.3132617 + 0.1269280) / 3 = 0.3777789; NE and AUC undefined.
  BinaryMetrics ones;
  for (int i = 0; i < 3; ++i) ones.add_logit(static_cast<float>(i), 1);
  EXPECT_TRUE(ones.one_class());
  EXPECT_TRUE(std::isnan(ones.ne()));
  EXPECT_TRUE(std::isnan(ones.auc()));
  EXPECT_NEAR(ones.logloss(), 0.3777789, 1e-7);

  // One example of the other class makes both defined again: labels 1, 1, 1, 0 with logits
  // 0, 1, 2, 3: the negative outranks every positive, AUC 0.
  ones.add_logit(3.0f, 0);
  EXPECT_FALSE(ones.one_class());
  EXPECT_DOUBLE_EQ(ones.auc(), 0.0);
  EXPECT_TRUE(std::isfinite(ones.ne()));
  EXPECT_FALSE(BinaryMetrics().one_class());  // no examples: defined values (see above)
}

TEST(BinaryMetrics, OneClassAfterMergeIsUndefined) {
  BinaryMetrics a;
  BinaryMetrics b;
  a.add_logit(0.5f, 0);
  b.add_logit(-0.5f, 0);
  a.merge(b);
  EXPECT_TRUE(std::isnan(a.ne()));
  EXPECT_TRUE(std::isnan(a.auc()));
}

double naive_auc(const std::vector<float>& scores, const std::vector<float>& labels) {
  double won = 0;
  double pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 1.0f) continue;
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[j] != 0.0f) continue;
      pairs += 1;
      if (scores[i] > scores[j]) won += 1;
      if (scores[i] == scores[j]) won += 0.5;
    }
  }
  return won / pairs;
}

struct RandomData {
  std::vector<float> logits, labels;
};

RandomData random_data(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::bernoulli_distribution coin(0.3);
  RandomData d;
  for (size_t i = 0; i < n; ++i) {
    const float label = coin(rng) ? 1.0f : 0.0f;
    // Quantized to 0.25 so that many scores tie.
    d.logits.push_back(std::round((noise(rng) + label) * 4.0f) / 4.0f);
    d.labels.push_back(label);
  }
  return d;
}

TEST(BinaryMetrics, AucMatchesNaivePairCountWithTies) {
  const RandomData d = random_data(1500, 7);
  BinaryMetrics m;
  m.add_logits(d.logits.data(), d.labels.data(), d.logits.size());
  EXPECT_NEAR(m.auc(), naive_auc(d.logits, d.labels), 1e-12);
  EXPECT_GT(m.auc(), 0.6);  // the label shifts the scores up
}

TEST(BinaryMetrics, MergeIsExact) {
  const RandomData d = random_data(30000, 11);
  BinaryMetrics all;
  all.add_logits(d.logits.data(), d.labels.data(), d.logits.size());

  // Three uneven parts, merged in a different order than they were added.
  BinaryMetrics a, b, c;
  a.add_logits(d.logits.data(), d.labels.data(), 1000);
  b.add_logits(d.logits.data() + 1000, d.labels.data() + 1000, 17000);
  c.add_logits(d.logits.data() + 18000, d.labels.data() + 18000, 12000);
  BinaryMetrics merged;
  merged.merge(c);
  merged.merge(a);
  merged.merge(b);

  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.auc(), all.auc());  // bit-identical
  EXPECT_EQ(merged.mean_label(), all.mean_label());
  EXPECT_NEAR(merged.logloss(), all.logloss(), 1e-12);
  EXPECT_NEAR(merged.ne(), all.ne(), 1e-12);
  EXPECT_NEAR(merged.calibration(), all.calibration(), 1e-12);
  EXPECT_NEAR(merged.mean_prediction(), all.mean_prediction(), 1e-12);
}

TEST(BinaryMetrics, AucOfAMillionExamplesMatchesClosedForm) {
  // Positives score uniformly over {1..K}, negatives over {0..K-1}, 500 of each per value.
  // Pairs with pos > neg: sum_{a=1..K} a = K(K+1)/2; ties: K-1 (a = b in 1..K-1); of K^2.
  // AUC = (K(K+1)/2 + (K-1)/2) / K^2 = (K^2 + 2K - 1) / (2 K^2).
  constexpr int K = 1000;
  constexpr int per_value = 500;
  std::vector<float> logits, labels;
  for (int v = 0; v < K; ++v) {
    for (int r = 0; r < per_value; ++r) {
      logits.push_back(static_cast<float>(v + 1));
      labels.push_back(1);
      logits.push_back(static_cast<float>(v));
      labels.push_back(0);
    }
  }
  BinaryMetrics m;
  m.add_logits(logits.data(), labels.data(), logits.size());
  EXPECT_EQ(m.count(), 1000000u);
  const double k = K;
  EXPECT_NEAR(m.auc(), (k * k + 2 * k - 1) / (2 * k * k), 1e-12);
}

TEST(BinaryMetrics, RejectsBadInput) {
  BinaryMetrics m;
  EXPECT_THROW(m.add_logit(0.0f, 0.5f), Error);
  EXPECT_THROW(m.add_logit(std::numeric_limits<float>::quiet_NaN(), 1.0f), Error);
  EXPECT_THROW(m.add_logit(std::numeric_limits<float>::infinity(), 1.0f), Error);
  EXPECT_THROW(m.add_probability(1.5f, 1.0f), Error);
  EXPECT_THROW(m.add_probability(-0.1f, 0.0f), Error);
  EXPECT_THROW(m.add_probability(std::numeric_limits<float>::quiet_NaN(), 0.0f), Error);
  EXPECT_THROW(m.add_probability(0.5f, 2.0f), Error);
  const float logits[] = {0.0f, 1.0f};
  const float labels[] = {1.0f, -1.0f};
  EXPECT_THROW(m.add_logits(logits, labels, 2), Error);
  try {
    m.add_logit(0.0f, 0.5f);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label must be 0 or 1, got 0.5"), std::string::npos);
  }
  // Rejected examples leave no trace; the valid first example of the batch was added.
  EXPECT_EQ(m.count(), 1u);
}

}  // namespace
}  // namespace shadowsync
