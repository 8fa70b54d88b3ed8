// DivergenceWatch: decides from the training loss that a run has diverged while every loss is
// still finite (a learning rate so large that the logits explode without overflowing).
//
// The rule: the training log loss, averaged over consecutive windows of at least
// window_examples examples, exceeds the limit max(20 x H(p), 10 x ln 2) nats per example in
// kWindowsToDiverge windows in a row, where H(p) is the entropy of the training rows' positive
// rate p (the log loss of always predicting p: NE 1). 10 x ln 2 = 6.93 nats means predicting the
// true class with probability 0.001 on average; no healthy run comes near it, while a diverged
// run's loss is many orders of magnitude above (NE 1e9 and more). The limit is also the bound for
// an evaluation's log loss, for the last stretch of a run too short for whole windows, and for a
// checkpoint: none is written while one of the last kWindowsToDiverge closed windows or the open
// stretch is above it. (Not only the last window: an exploded model's loss is spiky, with windows
// below the limit between the spikes, and where windows end depends on when the coordinator
// looks; one of the last three was above in every alignment seen.)
// Not a public header: the coordinator owns one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shadowsync::train {

class DivergenceWatch {
 public:
  static constexpr int kWindowsToDiverge = 3;

  // positive_rate: of the training rows; window_examples: the shortest window (> 0).
  DivergenceWatch(double positive_rate, uint64_t window_examples);

  // The log loss per example above which a window counts as diverged.
  double limit() const { return limit_; }

  // Feeds the run's cumulative loss sum and example count (both only grow). Returns true once
  // kWindowsToDiverge windows in a row were above the limit. Windows shorter than
  // window_examples wait for more examples.
  bool observe(double loss_sum, uint64_t examples);

  // The mean loss of the stretch not yet closed as a window (since the last closed window) is
  // above the limit, with at least min_examples in it; for a check before a checkpoint and at
  // the end of a run.
  bool open_window_above(double loss_sum, uint64_t examples, uint64_t min_examples) const;

  // The open stretch's mean loss and length.
  double open_window_loss(double loss_sum, uint64_t examples) const;
  uint64_t open_window_examples(uint64_t examples) const { return examples - start_examples_; }

  // One of the last kWindowsToDiverge closed windows was above the limit (the run may still
  // recover; not yet divergence): no model to keep.
  bool recent_window_above() const { return recent_above_ != 0; }

  // Mean loss and length of the last window that counted (the evidence for the message).
  double last_window_loss() const { return last_loss_; }
  uint64_t last_window_examples() const { return last_examples_; }

 private:
  double limit_;
  uint64_t window_;
  double start_loss_ = 0;
  uint64_t start_examples_ = 0;
  bool started_ = false;
  int windows_above_ = 0;
  unsigned recent_above_ = 0;  // bit k: the k-th last closed window was above the limit
  double last_loss_ = 0;
  uint64_t last_examples_ = 0;
};

// True when every one of the n floats is finite.
bool all_finite(const float* values, size_t n);

}  // namespace shadowsync::train
