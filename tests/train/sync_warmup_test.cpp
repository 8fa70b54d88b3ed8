// The shadow modes' shared-replica warm-up (TrainConfig::sync_warmup): every group trains replica
// 0 and no round runs until the warm-up's end; a run stopped inside it ends with one model in
// every replica; evaluations inside it see one model; the replicas split and rounds run after
// it; a checkpoint taken inside it resumes and finishes; resuming with another warm-up, or asking
// a foreground mode for one, is refused naming the option.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../common/error_text.hpp"
#include "../common/generated_data.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/train/train_observer.hpp"
#include "shadowsync/train/trainer.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kRows = 20000;
const HashingConfig kHashing = HashingConfig::uniform(512);

const Dataset& dataset() {
  static test::GeneratedData data = test::generate_dataset("shadowsync_warmup", kRows, 5, kHashing, 0.0);
  return *data.dataset;
}

std::pair<DataView, DataView> split() { return split_eval_tail(dataset().view(), 0.1); }

TrainConfig config(SyncMethod mode, double warmup, int groups = 2) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = mode;
  c.topology = "package:" + std::to_string(groups) + " numa:1 core:1 pu:1";
  c.placement.threads_per_group = 1;
  c.placement.oversubscribe = true;
  c.batch = 64;
  c.sync_warmup = warmup;
  return c;
}

uint64_t train_rows() { return split().first.rows; }

struct Recorder : TrainObserver {
  std::vector<WarmupReport> warmups;
  std::vector<TrainReport> evaluations;
  void on_warmup(const WarmupReport& w) override { warmups.push_back(w); }
  void on_evaluation(const TrainReport& r) override { evaluations.push_back(r); }
};

TrainerSetup observed_by(TrainObserver& observer) {
  TrainerSetup setup;
  setup.observer = &observer;
  return setup;
}

bool replicas_equal(const Trainer& trainer) {
  const std::vector<const float*> replicas = trainer.replicas();
  const size_t bytes = trainer.model().layout().total_floats * sizeof(float);
  for (size_t r = 1; r < replicas.size(); ++r) {
    if (std::memcmp(replicas[0], replicas[r], bytes) != 0) return false;
  }
  return true;
}

TEST(SyncWarmup, ARunStoppedInsideTheWarmupEndsWithOneModelInEveryReplicaAndNoRound) {
  for (const SyncMethod& mode : {SyncMethod::ShadowPA, SyncMethod::ShadowMA, SyncMethod::ShadowEASGD}) {
    TrainConfig c = config(mode, 0.6, 4);
    c.max_examples = train_rows() / 3;  // inside the warm-up (0.6 of the rows)
    const auto [train, eval] = split();
    Recorder recorder;
    Trainer trainer(c, train, eval, observed_by(recorder));
    const TrainResult result = trainer.run();
    SCOPED_TRACE(mode.name());
    ASSERT_EQ(recorder.warmups.size(), 1u);
    EXPECT_EQ(recorder.warmups[0].until_examples, static_cast<uint64_t>(std::llround(0.6 * double(train_rows()))));
    EXPECT_DOUBLE_EQ(recorder.warmups[0].share, 0.6);
    EXPECT_EQ(result.final_report.sync_rounds, 0u);
    EXPECT_TRUE(replicas_equal(trainer));
    EXPECT_EQ(result.final_report.sync_warmup_examples, recorder.warmups[0].until_examples);
    // The shared replica was trained: it left its initial values.
    std::vector<float> initial(trainer.model().layout().total_floats);
    trainer.model().init_dense(initial.data(), c.seed);
    EXPECT_NE(std::memcmp(initial.data(), trainer.replicas()[0], initial.size() * sizeof(float)), 0);
  }
}

TEST(SyncWarmup, TheSharedReplicaTakesEveryGroupsUpdates) {
  // Four groups; group 0's rows (the first quarter) get numeric features 0, so its gradients
  // leave the first bottom layer's weights alone (dW = dy x^T = 0). In the warm-up replica 0
  // takes every group's updates, so those weights move; had the groups trained their own
  // replicas, replica 0 (the model a run stopped in the warm-up ends with) would hold them at
  // their initial values.
  const auto [original, eval] = split();
  std::vector<float> numeric(original.numeric, original.numeric + original.rows * size_t(original.numeric_width));
  std::fill(numeric.begin(), numeric.begin() + (original.rows / 4) * size_t(original.numeric_width), 0.0f);
  DataView train = original;
  train.numeric = numeric.data();
  TrainConfig c = config(SyncMethod::ShadowMA, 0.6, 4);
  c.max_examples = train.rows / 3;
  Trainer trainer(c, train, eval);
  trainer.run();
  const DenseLayout::Layer& first = trainer.model().layout().bottom.at(0);
  std::vector<float> initial(trainer.model().layout().total_floats);
  trainer.model().init_dense(initial.data(), c.seed);
  const size_t weights = size_t(first.out) * size_t(first.in);
  EXPECT_NE(std::memcmp(initial.data() + first.weight_offset, trainer.replicas()[0] + first.weight_offset,
                        weights * sizeof(float)),
            0);
}

TEST(SyncWarmup, EvaluationsInsideSeeOneModelAndTheReplicasSplitAfter) {
  TrainConfig c = config(SyncMethod::ShadowMA, 0.4);
  c.eval_every = train_rows() / 10;
  c.sync_round_iterations = 2;
  const auto [train, eval] = split();
  Recorder recorder;
  Trainer trainer(c, train, eval, observed_by(recorder));
  const TrainResult result = trainer.run();
  const uint64_t end = static_cast<uint64_t>(std::llround(0.4 * double(train_rows())));
  ASSERT_EQ(recorder.warmups.size(), 1u);
  EXPECT_EQ(recorder.warmups[0].until_examples, end);
  ASSERT_GE(recorder.evaluations.size(), 8u);
  int inside = 0, after = 0;
  for (const TrainReport& r : recorder.evaluations) {
    if (r.examples < end) {
      ++inside;
      EXPECT_EQ(r.divergence, 0.0) << "at " << r.examples;
      EXPECT_EQ(r.sync_rounds, 0u) << "at " << r.examples;
    } else {
      ++after;
    }
  }
  EXPECT_GE(inside, 3);
  EXPECT_GE(after, 4);
  // After the warm-up the groups train their own replicas (they differ between rounds) and the
  // shadow rounds run.
  double largest_after = 0;
  for (const TrainReport& r : recorder.evaluations) {
    if (r.examples > end) largest_after = std::max(largest_after, r.divergence);
  }
  EXPECT_GT(largest_after, 0.0);
  EXPECT_GT(result.final_report.sync_rounds, 0u);
  EXPECT_EQ(result.final_report.sync_warmup_examples, end);
}

TEST(SyncWarmup, NoWarmupMeansRoundsFromTheStart) {
  TrainConfig c = config(SyncMethod::ShadowMA, 0.0);
  c.eval_every = train_rows() / 4;
  c.sync_round_iterations = 1;
  const auto [train, eval] = split();
  Recorder recorder;
  Trainer trainer(c, train, eval, observed_by(recorder));
  const TrainResult result = trainer.run();
  EXPECT_TRUE(recorder.warmups.empty());
  EXPECT_EQ(result.final_report.sync_warmup_examples, 0u);
  ASSERT_FALSE(recorder.evaluations.empty());
  EXPECT_GT(recorder.evaluations.front().divergence, 0.0);
}

TEST(SyncWarmup, ACheckpointInsideTheWarmupResumesAndFinishes) {
  const std::string path = test::temp_path_for("shadowsync_warmup", "inside.ckpt");
  const auto [train, eval] = split();
  const uint64_t end = static_cast<uint64_t>(std::llround(0.5 * double(train_rows())));
  {
    TrainConfig c = config(SyncMethod::ShadowPA, 0.5);
    c.checkpoint_path = path;
    c.max_examples = end / 2;
    Trainer trainer(c, train, eval);
    trainer.run();
  }
  {
    // Without the option the checkpoint's warm-up is taken: the run ends it where it would have.
    TrainConfig c = config(SyncMethod::ShadowPA, 0.0);
    c.sync_warmup.reset();
    c.resume_path = path;
    c.checkpoint_path = path;
    Recorder recorder;
    Trainer trainer(c, train, eval, observed_by(recorder));
    const TrainResult result = trainer.run();
    ASSERT_EQ(recorder.warmups.size(), 1u);
    EXPECT_EQ(recorder.warmups[0].until_examples, end);
    EXPECT_EQ(result.final_report.examples, train_rows());
    EXPECT_GT(result.final_report.sync_rounds, 0u);
    ASSERT_TRUE(result.final_report.eval.has_value());
    EXPECT_LT(result.final_report.eval->ne, 0.95);
  }
}

TEST(SyncWarmup, ResumingWithAnotherWarmupIsRefusedNamingTheOption) {
  const std::string path = test::temp_path_for("shadowsync_warmup", "other.ckpt");
  const std::pair<DataView, DataView> views = split();  // not a structured binding: a lambda uses it
  const DataView& train = views.first;
  const DataView& eval = views.second;
  {
    TrainConfig c = config(SyncMethod::ShadowMA, 0.5);
    c.checkpoint_path = path;
    c.max_examples = train_rows() / 5;
    Trainer trainer(c, train, eval);
    trainer.run();
  }
  TrainConfig c = config(SyncMethod::ShadowMA, 0.25);
  c.resume_path = path;
  const std::string error = test::cli_error_of([&] { Trainer t(c, train, eval); });
  EXPECT_NE(error.find("checkpoint was trained with --sync-warmup 0.5, asked for 0.25"), std::string::npos) << error;
}

TEST(SyncWarmup, OnlyShadowModesTakeAWarmupAndItsRangeIsChecked) {
  TrainConfig c = config(SyncMethod::ForegroundMA, 0.2);
  EXPECT_EQ(test::cli_error_of([&] { c.validate(); }),
            "--sync-warmup applies to the shadow modes (s-pa, s-ma, s-easgd, s-bmuf), not to fr-ma: a foreground "
            "mode syncs every --sync-every iterations from the start, none and hogwild have no rounds");
  c.sync = SyncMethod::ShadowMA;
  c.sync_warmup = 1.0;
  EXPECT_NE(test::cli_error_of([&] { c.validate(); }).find("--sync-warmup"), std::string::npos);
  c.sync_warmup = 0.0;
  c.sync = SyncMethod::ForegroundMA;
  EXPECT_EQ(test::cli_error_of([&] { c.validate(); }), "(no error)");  // 0 is no warm-up, fine anywhere
  // The default: none for one group or a mode without rounds.
  TrainConfig d;
  d.sync = SyncMethod::ShadowPA;
  EXPECT_EQ(d.effective_sync_warmup(1), 0.0);
  EXPECT_EQ(d.effective_sync_warmup(4), 0.25);
  d.sync = SyncMethod::ShadowBMUF;
  EXPECT_EQ(d.effective_sync_warmup(4), 0.25);
  d.sync = SyncMethod::ShadowEASGD;
  EXPECT_EQ(d.effective_sync_warmup(8), 0.5);
  d.sync = SyncMethod::ShadowMA;
  EXPECT_EQ(d.effective_sync_warmup(2), 0.5);
  d.sync_warmup = 0.1;
  EXPECT_EQ(d.effective_sync_warmup(2), 0.1);
  d.sync_warmup.reset();
  d.sync = SyncMethod::ForegroundPA;
  EXPECT_EQ(d.effective_sync_warmup(4), 0.0);
}

}  // namespace
}  // namespace shadowsync
