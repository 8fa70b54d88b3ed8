// DivergenceWatch against hand-computed limits and windows, and all_finite on every kind of
// float.
#include "train/divergence_watch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace shadowsync::train {
namespace {

TEST(DivergenceWatch, TheLimitIsTwentyEntropiesOfThePositiveRateAndAtLeastTenLn2) {
  // H(0.25) = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.5623351446
  EXPECT_NEAR(DivergenceWatch(0.25, 100).limit(), 20 * 0.5623351446, 1e-8);
  EXPECT_NEAR(DivergenceWatch(0.5, 100).limit(), 20 * std::log(2.0), 1e-12);
  // H(0.01) = 0.0560 -> 20 H = 1.12 < 10 ln 2 = 6.931
  EXPECT_NEAR(DivergenceWatch(0.01, 100).limit(), 10 * std::log(2.0), 1e-12);
  EXPECT_NEAR(DivergenceWatch(0.0, 100).limit(), 10 * std::log(2.0), 1e-12);
  EXPECT_NEAR(DivergenceWatch(1.0, 100).limit(), 10 * std::log(2.0), 1e-12);
}

TEST(DivergenceWatch, ThreeWindowsInARowAboveTheLimitAreDivergence) {
  DivergenceWatch w(0.5, 100);  // limit 13.86
  EXPECT_FALSE(w.observe(0, 0));
  EXPECT_FALSE(w.observe(50 * 20.0, 50)) << "a window shorter than 100 examples waits";
  EXPECT_FALSE(w.observe(120 * 20.0, 120)) << "first window above";
  EXPECT_FALSE(w.observe(120 * 20.0 + 100 * 20.0, 220)) << "second window above";
  EXPECT_TRUE(w.observe(120 * 20.0 + 200 * 20.0 + 50 * 20.0, 370)) << "third window above";
  EXPECT_DOUBLE_EQ(w.last_window_loss(), 20.0);
  EXPECT_TRUE(w.recent_window_above());
  EXPECT_EQ(w.last_window_examples(), 150u);
}

TEST(DivergenceWatch, AWindowBelowTheLimitStartsTheCountAgain) {
  DivergenceWatch w(0.5, 100);
  double loss = 0;
  uint64_t examples = 0;
  auto window = [&](double mean) {
    loss += 100 * mean;
    examples += 100;
    return w.observe(loss, examples);
  };
  w.observe(0, 0);
  EXPECT_FALSE(window(50));
  EXPECT_FALSE(window(50));
  EXPECT_TRUE(w.recent_window_above());
  EXPECT_FALSE(window(13.8)) << "13.8 is below the limit 13.86";
  EXPECT_TRUE(w.recent_window_above()) << "one of the last three windows was above: no model to keep";
  EXPECT_FALSE(window(50));
  EXPECT_FALSE(window(50));
  EXPECT_TRUE(window(14.0));
  // A healthy run (loss around the entropy) never trips it, however long.
  DivergenceWatch healthy(0.5, 100);
  healthy.observe(0, 0);
  for (int i = 1; i <= 1000; ++i) EXPECT_FALSE(healthy.observe(i * 100 * 0.69, static_cast<uint64_t>(i) * 100));
}

// A spiky exploded run (one window above, then windows below) keeps no checkpoint until three
// windows in a row were below the limit.
TEST(DivergenceWatch, AWindowAboveBlocksCheckpointsForThreeWindows) {
  DivergenceWatch w(0.5, 100);
  double loss = 0;
  uint64_t examples = 0;
  auto window = [&](double mean) {
    loss += 100 * mean;
    examples += 100;
    return w.observe(loss, examples);
  };
  w.observe(0, 0);
  EXPECT_FALSE(w.recent_window_above());
  window(1e20);
  EXPECT_TRUE(w.recent_window_above());
  window(1.0);
  EXPECT_TRUE(w.recent_window_above());
  window(1.0);
  EXPECT_TRUE(w.recent_window_above());
  window(1.0);
  EXPECT_FALSE(w.recent_window_above()) << "three windows below: the run recovered";
}

TEST(DivergenceWatch, TheOpenStretchIsJudgedOnItsOwnMean) {
  DivergenceWatch w(0.5, 1000);
  w.observe(10, 0);  // starts from the run's current sums (a resumed run)
  EXPECT_FALSE(w.open_window_above(10 + 9 * 100, 9, 10)) << "fewer examples than asked for";
  EXPECT_TRUE(w.open_window_above(10 + 10 * 100, 10, 10));
  EXPECT_DOUBLE_EQ(w.open_window_loss(10 + 10 * 100, 10), 100.0);
  EXPECT_EQ(w.open_window_examples(10), 10u);
  EXPECT_FALSE(w.open_window_above(10 + 10 * 0.7, 10, 10));
  DivergenceWatch not_started(0.5, 1000);
  EXPECT_FALSE(not_started.open_window_above(1e9, 10, 1));
}

TEST(AllFinite, FindsEveryNaNAndInfinityAnywhere) {
  std::vector<float> v(1001, 1.5f);
  v[3] = -0.0f;
  v[4] = std::numeric_limits<float>::max();
  v[5] = std::numeric_limits<float>::denorm_min();
  EXPECT_TRUE(all_finite(v.data(), v.size()));
  EXPECT_TRUE(all_finite(nullptr, 0));
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    for (const size_t at : {size_t{0}, size_t{517}, size_t{1000}}) {
      std::vector<float> w = v;
      w[at] = bad;
      EXPECT_FALSE(all_finite(w.data(), w.size())) << bad << " at " << at;
    }
  }
}

}  // namespace
}  // namespace shadowsync::train
