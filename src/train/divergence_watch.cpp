// The divergence rule on the training loss (see divergence_watch.hpp).
#include "train/divergence_watch.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace shadowsync::train {
namespace {

double entropy(double p) {
  if (!(p > 0 && p < 1)) return 0;
  return -(p * std::log(p) + (1 - p) * std::log1p(-p));
}

}  // namespace

DivergenceWatch::DivergenceWatch(double positive_rate, uint64_t window_examples)
    : limit_(std::max(20 * entropy(positive_rate), 10 * std::numbers::ln2)),
      window_(std::max<uint64_t>(window_examples, 1)) {}

bool DivergenceWatch::observe(double loss_sum, uint64_t examples) {
  if (!started_) {
    started_ = true;
    start_loss_ = loss_sum;
    start_examples_ = examples;
    return false;
  }
  if (examples < start_examples_ + window_) return false;
  const uint64_t n = examples - start_examples_;
  const double mean = (loss_sum - start_loss_) / static_cast<double>(n);
  start_loss_ = loss_sum;
  start_examples_ = examples;
  recent_above_ = ((recent_above_ << 1) | (mean > limit_ ? 1u : 0u)) & ((1u << kWindowsToDiverge) - 1);
  if (mean > limit_) {
    last_loss_ = mean;
    last_examples_ = n;
    ++windows_above_;
  } else {
    windows_above_ = 0;
  }
  return windows_above_ >= kWindowsToDiverge;
}

double DivergenceWatch::open_window_loss(double loss_sum, uint64_t examples) const {
  return examples > start_examples_ ? (loss_sum - start_loss_) / static_cast<double>(examples - start_examples_) : 0;
}

bool DivergenceWatch::open_window_above(double loss_sum, uint64_t examples, uint64_t min_examples) const {
  if (!started_ || examples <= start_examples_ || examples - start_examples_ < std::max<uint64_t>(min_examples, 1)) {
    return false;
  }
  return open_window_loss(loss_sum, examples) > limit_;
}

bool all_finite(const float* values, size_t n) {
  // Summing 0 x v keeps every NaN and turns every infinity into NaN, in one vectorizable pass.
  float probe = 0;
  for (size_t i = 0; i < n; ++i) probe += 0.0f * values[i];
  return probe == 0.0f;
}

}  // namespace shadowsync::train
