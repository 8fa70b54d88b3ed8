// held_out_ne_rise against hand-made evaluation sequences, and the default evaluation interval.
#include "shadowsync/train/train_report.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "shadowsync/train/train_config.hpp"

namespace shadowsync {
namespace {

TrainResult with_evaluations(std::vector<std::pair<uint64_t, double>> points) {
  TrainResult r;
  r.evaluation_ne = std::move(points);
  return r;
}

TEST(HeldOutNeRise, FoundWhenTheBestEvaluationCameAnEpochBeforeTheEnd) {
  // 1000 examples per epoch, 3 epochs: best at 1000 (end of epoch 1), final 1.2 % above it.
  const TrainResult r = with_evaluations({{500, 0.80}, {1000, 0.75}, {2000, 0.752}, {3000, 0.759}});
  const std::optional<NeRise> rise = held_out_ne_rise(r, 1000);
  ASSERT_TRUE(rise.has_value());
  EXPECT_EQ(rise->best_examples, 1000u);
  EXPECT_DOUBLE_EQ(rise->best_ne, 0.75);
  EXPECT_DOUBLE_EQ(rise->final_ne, 0.759);
  EXPECT_EQ(rise->best_epoch, 1);
}

TEST(HeldOutNeRise, NotFoundForImprovingNoiseOrLateBests) {
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{1000, 0.8}, {2000, 0.78}, {3000, 0.77}}), 1000));
  // Within the tolerance (0.2 %): noise, not overfitting.
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{1000, 0.75}, {2000, 0.76}, {3000, 0.7514}}), 1000));
  // The best came less than an epoch before the end.
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{1000, 0.8}, {2500, 0.75}, {3000, 0.76}}), 1000));
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{3000, 0.76}}), 1000));
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({}), 1000));
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{1000, 0.75}, {3000, 0.9}}), 0));
  // A NaN final NE (one class) says nothing.
  EXPECT_FALSE(held_out_ne_rise(with_evaluations({{1000, 0.75}, {3000, std::nan("")}}), 1000));
}

TEST(DefaultEvalEvery, EightEvaluationsAlongTheRun) {
  EXPECT_EQ(TrainConfig::default_eval_every(8000, 1), 1000u);
  EXPECT_EQ(TrainConfig::default_eval_every(8001, 1), 1001u);
  EXPECT_EQ(TrainConfig::default_eval_every(8000, 3), 3000u);
  EXPECT_EQ(TrainConfig::default_eval_every(3, 1), 1u);
  EXPECT_EQ(TrainConfig::default_eval_every(0, 1), 1u);
}

}  // namespace
}  // namespace shadowsync
