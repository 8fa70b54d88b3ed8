// Training runs with sync_optimizer_state (the dense Adagrad accumulators combined in sync
// rounds): deterministic foreground runs end with every replica's accumulator equal (sum, mean)
// and equal to the rule's base b (sum), unlike none; a resumed sum run ends bit-identical to the
// uninterrupted one (b is in the checkpoint); sgd with an explicit sum / mean is refused; an
// unset setting is the default constant.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../common/error_text.hpp"
#include "../common/generated_data.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/train/trainer.hpp"
#include "train/checkpoint.hpp"

namespace shadowsync {
namespace {

const HashingConfig kHashing = HashingConfig::uniform(512);
const char* const kTwoGroups = "package:2 numa:1 core:1 pu:1";
// 2 groups x 40 batches of 64: each group's share ends at a sync point (sync_every 4).
constexpr size_t kTrainRows = 2 * 40 * 64;

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_optstate", name); }

const test::GeneratedData& data() {
  static const test::GeneratedData d = test::generate_dataset("shadowsync_optstate", 8000, 5, kHashing, 0.2);
  return d;
}
DataView train_rows() { return data().train.slice(0, kTrainRows); }

TrainConfig config(SyncMethod mode, OptimizerStateSync state_sync) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = mode;
  c.topology = kTwoGroups;
  c.placement.threads_per_group = 1;
  c.batch = 64;
  c.sync_every = 4;
  c.deterministic = true;
  c.sync_optimizer_state = state_sync;
  return c;
}

std::vector<float> section(const std::string& path, const char* name) {
  CheckpointReader reader(path);
  std::vector<float> out(reader.section_bytes(name) / sizeof(float));
  reader.read_floats(name, out.data(), out.size());
  return out;
}

// Largest |a_0 - a_1| / (1 + |a_0|) between the two replicas' accumulators of a checkpoint.
double accumulator_spread(const std::vector<float>& dense_state) {
  const size_t n = dense_state.size() / 2;
  double spread = 0;
  for (size_t e = 0; e < n; ++e) {
    spread = std::max(spread, std::abs(double(dense_state[e]) - dense_state[n + e]) / (1 + std::abs(dense_state[e])));
  }
  return spread;
}

TEST(OptimizerStateSyncRun, RoundsMakeTheAccumulatorsEqual) {
  const std::string path = temp_path("equal.ckpt");
  for (SyncMethod mode : {SyncMethod::ForegroundMA, SyncMethod::ForegroundPA}) {
    for (OptimizerStateSync state_sync : {OptimizerStateSync::None, OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
      TrainConfig c = config(mode, state_sync);
      c.checkpoint_path = path;
      Trainer(c, train_rows(), data().eval).run();
      const std::vector<float> dense_state = section(path, "dense_state");
      const std::string what = mode.name() + " " + optimizer_state_sync_name(state_sync);
      if (state_sync == OptimizerStateSync::None) {
        EXPECT_GT(accumulator_spread(dense_state), 1e-3) << what;  // each saw only its own gradients
        continue;
      }
      EXPECT_LT(accumulator_spread(dense_state), 1e-6) << what;
      if (state_sync == OptimizerStateSync::Sum) {
        // b, the last n floats of sync_state, is the accumulators' common value; summed, they
        // hold more than either replica's own share (about twice the mean's).
        const std::vector<float> sync_state = section(path, "sync_state");
        const size_t n = dense_state.size() / 2;
        ASSERT_GE(sync_state.size(), n) << what;
        double total = 0, base_total = 0;
        for (size_t e = 0; e < n; ++e) {
          ASSERT_NEAR(sync_state[sync_state.size() - n + e], dense_state[e], 1e-6 * (1 + std::abs(dense_state[e])))
              << what << " element " << e;
          total += dense_state[e];
        }
        base_total = total;
        TrainConfig mean = config(mode, OptimizerStateSync::Mean);
        mean.checkpoint_path = path + ".mean";
        Trainer(mean, train_rows(), data().eval).run();
        const std::vector<float> mean_state = section(path + ".mean", "dense_state");
        double mean_total = 0;
        for (size_t e = 0; e < n; ++e) mean_total += mean_state[e];
        EXPECT_GT(base_total, 1.5 * mean_total) << what;
      }
    }
  }
  for (const std::string& p : {path, path + ".lock", path + ".mean", path + ".mean.lock"}) std::remove(p.c_str());
}

// A sum run stopped between sync points and resumed ends with the same replicas, accumulators,
// sync state and tables as the uninterrupted run.
TEST(OptimizerStateSyncRun, ResumeIsBitIdentical) {
  const std::string whole_path = temp_path("whole.ckpt"), stop_path = temp_path("stop.ckpt"),
                    resumed_path = temp_path("resumed.ckpt");
  for (SyncMethod mode : {SyncMethod::ForegroundMA, SyncMethod::ForegroundPA}) {
    TrainConfig c = config(mode, OptimizerStateSync::Sum);
    c.sync_every = 5;
    TrainConfig whole = c;
    whole.checkpoint_path = whole_path;
    Trainer(whole, train_rows(), data().eval).run();

    TrainConfig first = c;
    first.max_examples = 64 * 13 + 3;  // past a few rounds, not at a sync point
    first.checkpoint_path = stop_path;
    ASSERT_TRUE(Trainer(first, train_rows(), data().eval).run().stopped_early);
    TrainConfig second = c;
    second.resume_path = stop_path;
    second.checkpoint_path = resumed_path;
    Trainer(second, train_rows(), data().eval).run();
    for (const char* name : {"replicas", "dense_state", "sync_state", "embeddings", "embedding_state"}) {
      EXPECT_EQ(section(whole_path, name), section(resumed_path, name)) << mode.name() << " " << name;
    }
  }
  for (const std::string& p : {whole_path, stop_path, resumed_path}) {
    std::remove(p.c_str());
    std::remove((p + ".lock").c_str());
  }
}

TEST(OptimizerStateSyncRun, SgdRefusesAnExplicitSetting) {
  for (OptimizerStateSync state_sync : {OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
    TrainConfig c = config(SyncMethod::ForegroundMA, state_sync);
    c.optimizer.dense = DenseOptimizer::Sgd;
    EXPECT_EQ(test::cli_error_of([&] { Trainer t(c, train_rows(), data().eval); }),
              std::string("--sync-optimizer-state ") + optimizer_state_sync_name(state_sync) +
                  ": the sgd dense optimizer keeps no optimizer state to synchronize (use --optimizer adagrad, or "
                  "--sync-optimizer-state none)");
  }
  TrainConfig unset = config(SyncMethod::ForegroundMA, OptimizerStateSync::None);
  unset.sync_optimizer_state.reset();
  unset.optimizer.dense = DenseOptimizer::Sgd;
  EXPECT_EQ(unset.optimizer_state_sync(), OptimizerStateSync::None);  // sgd: nothing to combine
  unset.max_examples = 640;
  Trainer(unset, train_rows(), data().eval).run();
  unset.optimizer.dense = DenseOptimizer::Adagrad;
  EXPECT_EQ(unset.optimizer_state_sync(), kDefaultOptimizerStateSync);
}

}  // namespace
}  // namespace shadowsync
