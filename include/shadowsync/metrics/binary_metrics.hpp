// BinaryMetrics: the CTR quality metrics of a binary classifier (log loss, normalized entropy,
// exact ROC AUC with ties, calibration), accumulated in double and mergeable across threads.
//
// Contract:
//  - Labels must be exactly 0 or 1; logits and probabilities must not be NaN, probabilities must
//    lie in [0, 1]. Anything else throws shadowsync::Error naming the value.
//  - add_logit() is the preferred input: its log loss is computed from the logit in a
//    numerically stable way (softplus form), so logits of +-100 give exact losses, not inf.
//    add_probability() clamps p to [kProbabilityFloor, 1 - kProbabilityFloor] for the log loss
//    only (mean_prediction() and the AUC use p as given).
//  - Every added example is stored as (score, label), score = the logit (a probability is
//    turned into its logit, which orders examples the same way), so auc() is exact: it sorts
//    the pairs (O(n log n), in parallel with oneTBB) and counts ties as half (Mann-Whitney U with
//    average ranks). Memory: 16 bytes per example.
//  - merge(other) is exact: afterwards every metric equals what one accumulator that saw all
//    examples would report (sums in double may differ by rounding only, auc() is identical).
//  - Degenerate cases:
//      no examples:           logloss = ne = mean_label = mean_prediction = calibration = 0,
//                             auc = 0.5 (callers that care check count() first);
//      all labels equal:      ne and auc are NaN (undefined: the base rate's entropy is 0 and
//                             no positive/negative pair exists); one_class() says so, and front
//                             ends print "undefined" and write null in JSON; logloss and
//                             calibration stay defined;
//      mean label 0:          calibration divides by kProbabilityFloor instead of 0.
//  - Not thread-safe for writes: give each thread its own accumulator and merge() them. The
//    const queries (auc() included, which sorts a copy) may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace shadowsync {

inline constexpr double kProbabilityFloor = 1e-7;

// Log loss of one example with logit z and label y in {0, 1}: softplus(z) - y * z, stable for
// any finite z.
double logloss_of_logit(double logit, double label);

// Entropy (natural log) of a Bernoulli(p) variable, with p clamped to
// [kProbabilityFloor, 1 - kProbabilityFloor]; this is the NE denominator.
double binary_entropy(double p);

class BinaryMetrics {
 public:
  void add_logit(float logit, float label);
  void add_probability(float p, float label);
  // add_logit() for n examples: logits[i] with labels[i].
  void add_logits(const float* logits, const float* labels, size_t n);
  void merge(const BinaryMetrics& other);

  uint64_t count() const { return count_; }
  double logloss() const;          // mean log loss (natural log)
  double ne() const;               // normalized entropy: logloss() / entropy of mean_label()
  double auc() const;              // exact ROC AUC, ties counted as half
  double calibration() const;      // mean_prediction() / mean_label()
  double mean_label() const;       // fraction of positives
  double mean_prediction() const;  // mean predicted probability
  // True when there are examples and all of them have the same label (ne() and auc() are NaN).
  bool one_class() const;

 private:
  struct Scored {
    double score;  // logit (+-inf for probabilities 1 and 0)
    uint8_t positive;
  };
  void add_scored(double score, double probability, double loss, float label);

  uint64_t count_ = 0;
  uint64_t positives_ = 0;
  double loss_sum_ = 0;
  double prediction_sum_ = 0;
  std::vector<Scored> scored_;
};

}  // namespace shadowsync
