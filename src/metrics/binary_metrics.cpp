// BinaryMetrics (see include/shadowsync/metrics/binary_metrics.hpp): sums for log loss / calibration and the
// stored (score, label) pairs for the exact AUC.
#include <tbb/parallel_sort.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"

namespace shadowsync {
namespace {

void check_label(float label) {
  if (label != 0.0f && label != 1.0f) {
    throw Error(fmt::format("BinaryMetrics: label must be 0 or 1, got {}", label));
  }
}

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

}  // namespace

double logloss_of_logit(double logit, double label) {
  // -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, with
  // softplus(z) = max(z, 0) + log1p(exp(-|z|)).
  return std::max(logit, 0.0) - label * logit + std::log1p(std::exp(-std::abs(logit)));
}

double binary_entropy(double p) {
  const double q = std::clamp(p, kProbabilityFloor, 1.0 - kProbabilityFloor);
  return -(q * std::log(q) + (1.0 - q) * std::log1p(-q));
}

void BinaryMetrics::add_scored(double score, double probability, double loss, float label) {
  ++count_;
  if (label == 1.0f) ++positives_;
  loss_sum_ += loss;
  prediction_sum_ += probability;
  scored_.push_back(Scored{score, static_cast<uint8_t>(label == 1.0f ? 1 : 0)});
}

void BinaryMetrics::add_logit(float logit, float label) {
  check_label(label);
  if (!std::isfinite(logit)) {
    throw Error(fmt::format("BinaryMetrics: logit must be finite, got {}", logit));
  }
  const double z = logit;
  add_scored(z, sigmoid(z), logloss_of_logit(z, label), label);
}

void BinaryMetrics::add_probability(float p, float label) {
  check_label(label);
  if (!(p >= 0.0f && p <= 1.0f)) {  // also rejects NaN
    throw Error(fmt::format("BinaryMetrics: probability must be in [0, 1], got {}", p));
  }
  const double prob = p;
  const double clamped = std::clamp(prob, kProbabilityFloor, 1.0 - kProbabilityFloor);
  const double loss = label == 1.0f ? -std::log(clamped) : -std::log1p(-clamped);
  // The logit orders examples exactly as p does; p = 0 and 1 become -inf and +inf.
  double score;
  if (prob == 0.0) {
    score = -std::numeric_limits<double>::infinity();
  } else if (prob == 1.0) {
    score = std::numeric_limits<double>::infinity();
  } else {
    score = std::log(prob) - std::log1p(-prob);
  }
  add_scored(score, prob, loss, label);
}

void BinaryMetrics::add_logits(const float* logits, const float* labels, size_t n) {
  scored_.reserve(scored_.size() + n);
  for (size_t i = 0; i < n; ++i) add_logit(logits[i], labels[i]);
}

void BinaryMetrics::merge(const BinaryMetrics& other) {
  count_ += other.count_;
  positives_ += other.positives_;
  loss_sum_ += other.loss_sum_;
  prediction_sum_ += other.prediction_sum_;
  scored_.insert(scored_.end(), other.scored_.begin(), other.scored_.end());
}

double BinaryMetrics::logloss() const {
  return count_ == 0 ? 0.0 : loss_sum_ / static_cast<double>(count_);
}

bool BinaryMetrics::one_class() const { return count_ > 0 && (positives_ == 0 || positives_ == count_); }

double BinaryMetrics::ne() const {
  if (count_ == 0) return 0.0;
  // One class: the base rate's entropy is 0, so the ratio is undefined (not a large number).
  if (one_class()) return std::numeric_limits<double>::quiet_NaN();
  return logloss() / binary_entropy(mean_label());
}

double BinaryMetrics::mean_label() const {
  return count_ == 0 ? 0.0 : static_cast<double>(positives_) / static_cast<double>(count_);
}

double BinaryMetrics::mean_prediction() const {
  return count_ == 0 ? 0.0 : prediction_sum_ / static_cast<double>(count_);
}

double BinaryMetrics::calibration() const {
  if (count_ == 0) return 0.0;
  return mean_prediction() / std::max(mean_label(), kProbabilityFloor);
}

double BinaryMetrics::auc() const {
  const uint64_t negatives = count_ - positives_;
  if (count_ == 0) return 0.5;
  if (one_class()) return std::numeric_limits<double>::quiet_NaN();  // no positive/negative pair
  // Sort a copy by (score, label): a total order, so the sorted sequence (and the sum below)
  // does not depend on insertion or merge order.
  std::vector<Scored> sorted(scored_);
  tbb::parallel_sort(sorted.begin(), sorted.end(), [](const Scored& a, const Scored& b) {
    return a.score < b.score || (a.score == b.score && a.positive < b.positive);
  });
  // Mann-Whitney U: each positive counts the negatives scored below it, plus half of those
  // tied with it.
  double pairs_won = 0;
  uint64_t negatives_below = 0;
  for (size_t begin = 0; begin < sorted.size();) {
    size_t end = begin;
    uint64_t group_pos = 0;
    uint64_t group_neg = 0;
    while (end < sorted.size() && sorted[end].score == sorted[begin].score) {
      if (sorted[end].positive) {
        ++group_pos;
      } else {
        ++group_neg;
      }
      ++end;
    }
    pairs_won += static_cast<double>(group_pos) *
                 (static_cast<double>(negatives_below) + 0.5 * static_cast<double>(group_neg));
    negatives_below += group_neg;
    begin = end;
  }
  return pairs_won / (static_cast<double>(positives_) * static_cast<double>(negatives));
}

}  // namespace shadowsync
