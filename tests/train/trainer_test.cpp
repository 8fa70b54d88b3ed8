// End-to-end tests of the Trainer on generated data: every sync mode trains on synthetic 2- and
// 4-socket topologies (2 workers per group, oversubscribed on a small machine); shadow modes
// reach the one-worker NE within a stated margin and beat `none`; s-ma keeps the replicas far
// closer than `none`; checkpoints round-trip and resume (a dcn model's too); bad checkpoints are refused; a diverging
// run stops with an error; --deterministic is bit-identical.
#include "shadowsync/train/trainer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "shadowsync/data/dataset.hpp"
#include "shadowsync/core/error.hpp"
#include "../common/error_text.hpp"
#include "cli/train_reporter.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "../common/sanitizers.hpp"
#include "../common/generated_data.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kRows = 120000;
const HashingConfig kHashing = HashingConfig::uniform(4096);
const char* const kTwoSockets = "package:2 numa:1 core:2 pu:1";
const char* const kFourSockets = "package:4 numa:1 core:2 pu:1";
// s-bmuf runs here pace their rounds (see kBmufMargin below for why).
constexpr int kBmufIntervalMs = 5;

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_trainer", name); }

// Generated once for the whole binary.
const test::GeneratedData& data() {
  static const test::GeneratedData d = test::generate_dataset("shadowsync_trainer", kRows, 11, kHashing, 0.2);
  return d;
}

TrainConfig config(SyncMethod mode, const std::string& topology, int threads_per_group) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = mode;
  c.topology = topology;
  c.placement.threads_per_group = threads_per_group;
  c.batch = 64;
  c.sync_every = 4;
  // The rules' rounds from the first batch, as before the warm-up existed (its own tests:
  // sync_warmup_test.cpp).
  c.sync_warmup = 0.0;
  if (mode == SyncMethod::ShadowBMUF) c.sync_interval_ms = kBmufIntervalMs;
  return c;
}

TrainResult train(const TrainConfig& c) {
  Trainer trainer(c, data().train, data().eval);
  return trainer.run();
}

double one_worker_ne() {
  static const double ne = train(config(SyncMethod::None, "package:1 core:1 pu:1", 1)).final_report.eval->ne;
  return ne;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return test::cli_text(e);
  }
  return "";
}

// Margins for "close to the one-worker run" (NE on the held-out tail; one pass over 96k rows).
// G groups x 2 Hogwild workers see the same data with 2G-way parallelism. Measured here:
// one worker 0.842; s-ma and s-easgd within 0.02 of it. s-bmuf's block momentum
// (eta = 1 - 1/G) sums the groups' progress over a block; with back-to-back rounds on an
// oversubscribed 2-core machine a "block" is a fraction of an iteration and the momentum
// overshoots (4 groups: 0.88-0.92). Paced at 5 ms (a block of 3-6 iterations, as the paper's
// rounds are) it gives 0.85-0.86, so the BMUF runs here use --sync-interval-ms 5.
// Measured again later (10 repeats of the 4-group runs, 2-core machine): s-ma and s-easgd single
// runs from 0.855 to 0.879, so the margin holds for the mean of two runs and is 0.04.
constexpr double kShadowMargin = 0.04;
constexpr double kBmufMargin = 0.05;

double margin_for(SyncMethod mode) { return mode == SyncMethod::ShadowBMUF ? kBmufMargin : kShadowMargin; }

class EveryMode : public ::testing::TestWithParam<std::tuple<const char*, SyncMethod>> {};

TEST_P(EveryMode, TrainsEveryExampleAndLearns) {
  const auto [topology, mode] = GetParam();
  const TrainResult r = train(config(mode, topology, 2));
  const TrainReport& f = r.final_report;
  EXPECT_EQ(f.examples, data().train.rows) << "one pass consumes every training row exactly once";
  EXPECT_FALSE(r.stopped_early);
  ASSERT_TRUE(f.eval.has_value());
  EXPECT_EQ(f.eval->examples, data().eval.rows);
  EXPECT_LT(f.eval->ne, 0.97) << "the model learned something";
  EXPECT_GT(f.eval->auc, 0.6);
  uint64_t per_group = 0;
  for (const GroupReport& g : f.groups) per_group += g.examples;
  EXPECT_EQ(per_group, f.examples);
  if (mode.shadow() || mode.foreground()) {
    EXPECT_GT(f.sync_rounds, 0u);
    ASSERT_TRUE(f.sync_gap.has_value());
    EXPECT_GT(*f.sync_gap, 0);
  } else {
    EXPECT_EQ(f.sync_rounds, 0u);
    EXPECT_FALSE(f.sync_gap.has_value());
  }
  // The quality margin of a shadow mode depends on how many rounds run per training iteration;
  // instrumentation slows workers and the shadow thread differently, so only the normal build
  // holds a shadow mode to it.
  // A shadow run is nondeterministic, so the margin holds for the mean of two runs.
  if (mode.shadow() && !test::kSanitizedBuild) {
    const double second = train(config(mode, topology, 2)).final_report.eval->ne;
    const double mean = (f.eval->ne + second) / 2;
    EXPECT_LT(mean, one_worker_ne() + margin_for(mode))
        << "NE of two runs " << f.eval->ne << ", " << second << "; one-worker NE " << one_worker_ne()
        << ", teacher NE " << data().summary.teacher_ne;
  }
  if (mode.foreground()) {
    // Each worker meets a barrier after every sync_every (4) of its own iterations, and the
    // barrier's completion syncs the group's replica once: 2 workers x 4 = 8 iterations of a
    // group between two syncs of its replica, for fr-easgd (one barrier per group: that group
    // with the center) as for fr-pa / fr-ma / fr-bmuf (one barrier of every worker: every replica
    // in one round). Off 8 only by the end of the data (a last stretch without a barrier, and a
    // worker that runs out first leaves the barrier to the other).
    EXPECT_NEAR(*f.sync_gap, 8.0, 0.5);
    // What differs is what a round is: fr-easgd's rounds are the groups' syncs, each one group's;
    // a whole-world round syncs every group at once.
    uint64_t group_syncs = 0;
    for (const GroupReport& g : f.groups) {
      group_syncs += g.syncs;
      if (mode != SyncMethod::ForegroundEASGD) EXPECT_EQ(g.syncs, f.sync_rounds) << "every round syncs every group";
    }
    EXPECT_EQ(group_syncs, mode == SyncMethod::ForegroundEASGD ? f.sync_rounds : f.sync_rounds * f.groups.size());
    EXPECT_GT(f.wait_share, 0.0);
  }
  if (mode.shadow()) {
    // A shadow round is counted once, where it runs, and is a sync of every group.
    for (const GroupReport& g : f.groups) EXPECT_EQ(g.syncs, f.sync_rounds);
  }
  if (mode == SyncMethod::ShadowEASGD || mode == SyncMethod::ForegroundEASGD) {
    ASSERT_TRUE(f.center.has_value());
    EXPECT_LT(f.center->ne, 1.0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    TwoSockets, EveryMode,
    ::testing::Combine(::testing::Values(kTwoSockets),
                       ::testing::Values(SyncMethod::ShadowPA, SyncMethod::ShadowMA, SyncMethod::ShadowEASGD,
                                         SyncMethod::ShadowBMUF, SyncMethod::ForegroundPA, SyncMethod::ForegroundMA,
                                         SyncMethod::ForegroundEASGD, SyncMethod::ForegroundBMUF, SyncMethod::None,
                                         SyncMethod::Hogwild)));
INSTANTIATE_TEST_SUITE_P(FourSockets, EveryMode,
                         ::testing::Combine(::testing::Values(kFourSockets),
                                            ::testing::Values(SyncMethod::ShadowPA, SyncMethod::ShadowMA,
                                                              SyncMethod::ShadowEASGD, SyncMethod::ShadowBMUF,
                                                              SyncMethod::ForegroundMA)));

TEST(Trainer, ShadowAveragingBeatsNoSyncAndKeepsReplicasTogether) {
  Trainer none(config(SyncMethod::None, kFourSockets, 2), data().train, data().eval);
  const TrainReport n = none.run().final_report;
  // A round per iteration of each group (the default paces one per 4): this checks that rounds
  // hold the replicas together, which at the default gap of about 5 iterations (73 rounds here)
  // leaves them only 4-5.5x closer than independent replicas. At a gap of about 2 (what a round
  // per iteration achieves with 8 workers on 2 cores) measured 3.6-6x over 20 runs: 3x required.
  TrainConfig every_iteration = config(SyncMethod::ShadowMA, kFourSockets, 2);
  every_iteration.sync_round_iterations = 1;
  Trainer shadow(every_iteration, data().train, data().eval);
  const TrainReport s = shadow.run().final_report;
  EXPECT_LT(s.eval->ne, n.eval->ne) << "s-ma " << s.eval->ne << " vs none " << n.eval->ne;
  const std::string detail = "s-ma divergence " + std::to_string(s.divergence) + " vs none " +
                             std::to_string(n.divergence) + " (s-ma: " + std::to_string(s.sync_rounds) +
                             " rounds, gap " + std::to_string(s.sync_gap.value_or(-1)) + ")";
  // Always closer than independent replicas. 3x closer at the gap a round per iteration gives on
  // an idle machine (<= 2.5 iterations); on a machine so loaded that the shadow thread falls
  // further behind (a larger gap, measured in the same run), only the weaker claim is checked.
  EXPECT_LT(s.divergence, n.divergence) << detail;
  if (s.sync_gap.has_value() && *s.sync_gap <= 2.5) {
    EXPECT_LT(s.divergence * 3, n.divergence) << detail;
  } else {
    std::printf("note: sync gap above 2.5 iterations (loaded machine): the 3x check is not made; %s\n", detail.c_str());
  }
}

TEST(Trainer, CheckpointResumeReachesTheSameExampleCount) {
  const std::string path = temp_path("resume.ckpt");
  TrainConfig first = config(SyncMethod::ShadowEASGD, kTwoSockets, 2);
  first.checkpoint_path = path;
  first.max_examples = data().train.rows / 3;
  const TrainResult stopped = train(first);
  EXPECT_TRUE(stopped.stopped_early);
  EXPECT_EQ(stopped.checkpoint, path);
  EXPECT_GE(stopped.final_report.examples, first.max_examples);
  EXPECT_LT(stopped.final_report.examples, data().train.rows);

  TrainConfig second = config(SyncMethod::ShadowEASGD, kTwoSockets, 2);
  second.resume_path = path;
  Trainer resumed(second, data().train, data().eval);
  const TrainResult done = resumed.run();
  EXPECT_FALSE(done.stopped_early);
  EXPECT_EQ(done.final_report.examples, data().train.rows);
  EXPECT_LT(done.final_report.eval->ne, one_worker_ne() + kShadowMargin);

  // The checkpoint holds the model: evaluating it gives the metrics of the stopped run.
  const TrainedModel loaded = TrainedModel::load(path);
  const BinaryMetrics m = evaluate_model(loaded.model(), loaded.dense(), loaded.embeddings(), data().eval);
  EXPECT_NEAR(m.ne(), stopped.final_report.eval->ne, 1e-9);
  std::remove(path.c_str());
}

// A DCN-v2 model (low-rank cross layers) trains like the others, and its checkpoint holds it:
// the loaded model is the same architecture and predicts the run's final evaluation exactly.
TEST(Trainer, DcnModelTrainsAndItsCheckpointPredictsTheSame) {
  const std::string path = temp_path("dcn.ckpt");
  TrainConfig c = config(SyncMethod::None, "package:1 core:1 pu:1", 1);
  c.model = ModelConfig::preset("dcn", kHashing);
  c.model.cross_layers = 2;
  c.model.cross_rank = 16;
  c.checkpoint_path = path;
  const TrainResult result = train(c);
  ASSERT_TRUE(result.final_report.eval.has_value());
  EXPECT_LT(result.final_report.eval->ne, 0.97) << "the model learned something";
  const TrainedModel loaded = TrainedModel::load(path);
  EXPECT_EQ(loaded.model().config(), c.model);
  ASSERT_EQ(loaded.model().layout().cross.size(), 2u);
  const BinaryMetrics m = evaluate_model(loaded.model(), loaded.dense(), loaded.embeddings(), data().eval);
  EXPECT_EQ(m.ne(), result.final_report.eval->ne);
  EXPECT_EQ(m.auc(), result.final_report.eval->auc);
  std::remove(path.c_str());
}

TEST(Trainer, RefusesMismatchedCorruptedAndTruncatedCheckpoints) {
  const std::string path = temp_path("refuse.ckpt");
  TrainConfig c = config(SyncMethod::ForegroundMA, kTwoSockets, 1);
  c.checkpoint_path = path;
  c.max_examples = 2000;
  train(c);

  TrainConfig other_model = config(SyncMethod::ForegroundMA, kTwoSockets, 1);
  other_model.model = ModelConfig::preset("tiny", kHashing);
  other_model.resume_path = path;
  EXPECT_NE(error_of([&] { Trainer t(other_model, data().train, data().eval); }).find("another model"), std::string::npos);

  TrainConfig other_hashing = config(SyncMethod::ForegroundMA, kTwoSockets, 1);
  other_hashing.model.hashing = HashingConfig::uniform(2048);
  other_hashing.resume_path = path;
  EXPECT_NE(error_of([&] { Trainer t(other_hashing, data().train, data().eval); }).find("other hashing"),
            std::string::npos);

  TrainConfig other_groups = config(SyncMethod::ForegroundMA, kFourSockets, 1);
  other_groups.resume_path = path;
  EXPECT_NE(error_of([&] { Trainer t(other_groups, data().train, data().eval); }).find("groups"), std::string::npos);

  std::vector<char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  TrainConfig resume = config(SyncMethod::ForegroundMA, kTwoSockets, 1);
  resume.resume_path = path;
  {
    std::vector<char> corrupted = bytes;
    corrupted[corrupted.size() / 2] ^= 0x40;
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(corrupted.data(), static_cast<std::streamsize>(corrupted.size()));
  }
  EXPECT_NE(error_of([&] { Trainer t(resume, data().train, data().eval); }).find("corrupted"), std::string::npos);
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 3));
  EXPECT_NE(error_of([&] { Trainer t(resume, data().train, data().eval); }).find("truncated"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Trainer, DivergingRunStopsWithAnErrorNamingTheExampleCount) {
  TrainConfig c = config(SyncMethod::ShadowMA, kTwoSockets, 1);
  c.optimizer.dense = DenseOptimizer::Sgd;
  c.optimizer.lr = 1e30f;
  c.optimizer.emb_lr = 1e30f;
  const std::string message = error_of([&] { train(c); });
  EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
  EXPECT_NE(message.find("at about"), std::string::npos) << message;
  EXPECT_NE(message.find("examples"), std::string::npos) << message;
}

TEST(Trainer, DeterministicModeIsBitIdentical) {
  for (SyncMethod mode : {SyncMethod::None, SyncMethod::ForegroundMA, SyncMethod::ForegroundEASGD, SyncMethod::ForegroundBMUF}) {
    TrainConfig c = config(mode, kTwoSockets, 1);
    c.deterministic = true;
    c.max_examples = 8000;
    Trainer a(c, data().train, data().eval);
    a.run();
    Trainer b(c, data().train, data().eval);
    b.run();
    const size_t n = a.model().layout().total_floats;
    EXPECT_EQ(0, std::memcmp(a.final_dense(), b.final_dense(), n * sizeof(float))) << mode.name();
    const EmbeddingStore& ea = a.embeddings();
    const EmbeddingStore& eb = b.embeddings();
    bool same = true;
    for (int t = 0; t < kNumSparse; ++t) {
      same = same && std::memcmp(ea.table_data(t), eb.table_data(t),
                                 ea.table_floats(t) * sizeof(float)) == 0;
    }
    EXPECT_TRUE(same) << mode.name();
  }
}

TEST(Trainer, DeterministicRefusedForShadowModes) {
  TrainConfig c = config(SyncMethod::ShadowMA, kTwoSockets, 1);
  c.deterministic = true;
  EXPECT_NE(error_of([&] { train(c); }).find("nondeterministic by nature"), std::string::npos);
}

// The engine reports to its observer; the CLI's reporter writes each report to --metrics.
TEST(Trainer, EvaluatesPeriodicallyIntoTheMetricsFile) {
  const std::string path = temp_path("metrics.jsonl");
  TrainConfig c = config(SyncMethod::ShadowMA, kTwoSockets, 1);
  c.eval_every = 40000;
  {
    cli::TrainReporter reporter(0.05, false, cli::MetricsFile(path, c.to_json()));
    TrainerSetup setup;
    setup.observer = &reporter;
    Trainer trainer(c, data().train, data().eval, setup);
    trainer.run();
  }
  std::ifstream in(path);
  std::string line;
  int evals = 0, finals = 0;
  nlohmann::json last;
  while (std::getline(in, line)) {
    last = nlohmann::json::parse(line);
    for (const char* key : {"examples", "elapsed_s", "examples_per_second", "sync_rounds", "sync_gap",
                            "divergence", "ne", "logloss", "auc", "calibration", "config"}) {
      EXPECT_TRUE(last.contains(key)) << key << " missing in " << line;
    }
    evals += last["event"] == "eval";
    finals += last["event"] == "final";
  }
  EXPECT_EQ(evals, 2);  // at 40000 and 80000 of 96000 examples
  EXPECT_EQ(finals, 1);
  EXPECT_EQ(last["event"], "final");
  EXPECT_EQ(last["examples"], data().train.rows);
  EXPECT_EQ(last["config"]["sync"], "s-ma");
  std::remove(path.c_str());
}

bool same_model(const Trainer& a, const Trainer& b) {
  const size_t n = a.model().layout().total_floats;
  if (std::memcmp(a.final_dense(), b.final_dense(), n * sizeof(float)) != 0) return false;
  for (int t = 0; t < kNumSparse; ++t) {
    if (std::memcmp(a.embeddings().table_data(t), b.embeddings().table_data(t),
                    a.embeddings().table_floats(t) * sizeof(float)) != 0) {
      return false;
    }
  }
  return true;
}

// A deterministic run stopped anywhere (here by --max-examples at a count that is no multiple
// of groups x batch x sync-every) and resumed ends bit-identical to the uninterrupted run.
TEST(Trainer, DeterministicResumeIsBitIdenticalWhereverItStopped) {
  const std::string path = temp_path("exact.ckpt");
  for (SyncMethod mode : {SyncMethod::ForegroundMA, SyncMethod::ForegroundEASGD, SyncMethod::ForegroundBMUF}) {
    TrainConfig c = config(mode, kTwoSockets, 1);
    c.deterministic = true;
    c.sync_every = 5;
    c.epochs = 1;
    Trainer whole(c, data().train, data().eval);
    whole.run();

    TrainConfig first = c;
    first.max_examples = 64 * 7 + 3;  // 7 batches in: not at a sync point of either worker
    first.checkpoint_path = path;
    const TrainResult stopped = Trainer(first, data().train, data().eval).run();
    ASSERT_TRUE(stopped.stopped_early);
    TrainConfig second = c;
    second.resume_path = path;
    Trainer resumed(second, data().train, data().eval);
    const TrainResult done = resumed.run();
    EXPECT_EQ(done.final_report.examples, data().train.rows);
    EXPECT_TRUE(same_model(whole, resumed)) << mode.name();
  }
  std::remove(path.c_str());
}

// The training rows given as parts (as `train --data a.bin b.bin` does, at boundaries that are no
// multiple of the batch, so batches cross parts) train bit-identical to their concatenation, and
// a checkpoint written from the concatenation resumes over the parts (same data fingerprint).
TEST(Trainer, PartsTrainLikeTheirConcatenationAndResumeAcrossIt) {
  const DataView all = data().train.slice(0, 20000);
  const std::vector<size_t> cuts = {0, 1000 + 17, 1000 + 17 + 5, 12000 + 3, all.rows};  // one part of 5 rows
  std::vector<DataView> pieces;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) pieces.push_back(all.slice(cuts[i], cuts[i + 1]));
  const DataParts parts(pieces);
  ASSERT_EQ(parts.parts().size(), 4u);
  for (SyncMethod mode : {SyncMethod::None, SyncMethod::ForegroundMA}) {
    TrainConfig c = config(mode, kTwoSockets, 1);
    c.deterministic = true;
    c.epochs = 2;  // the second pass crosses the parts again
    Trainer whole(c, all, data().eval);
    const TrainResult a = whole.run();
    Trainer split(c, parts, data().eval);
    const TrainResult b = split.run();
    EXPECT_EQ(b.final_report.examples, 2 * all.rows);
    EXPECT_EQ(a.final_report.eval->ne, b.final_report.eval->ne) << mode.name();
    EXPECT_TRUE(same_model(whole, split)) << mode.name();

    const std::string path = temp_path("parts.ckpt");
    TrainConfig first = c;
    first.max_examples = 64 * 9 + 5;
    first.checkpoint_path = path;
    ASSERT_TRUE(Trainer(first, all, data().eval).run().stopped_early);
    TrainConfig second = c;
    second.resume_path = path;
    Trainer resumed(second, parts, data().eval);
    resumed.run();
    EXPECT_TRUE(same_model(whole, resumed)) << mode.name();
    // Other rows in the same shape are refused as other data.
    std::vector<DataView> swapped = pieces;
    std::swap(swapped[0], swapped[3]);
    EXPECT_NE(error_of([&] { Trainer(second, DataParts(swapped), data().eval); }).find("fingerprint"),
              std::string::npos);
    std::remove(path.c_str());
  }
}

TEST(Trainer, ResumingAFinishedRunDoesNothing) {
  const std::string path = temp_path("finished.ckpt");
  TrainConfig c = config(SyncMethod::ForegroundMA, kTwoSockets, 1);
  c.checkpoint_path = path;
  train(c);
  std::ifstream in(path, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(in)), {});
  in.close();

  TrainConfig again = c;
  again.resume_path = path;
  const TrainResult r = train(again);
  EXPECT_TRUE(r.already_finished);
  EXPECT_EQ(r.final_report.examples, data().train.rows);
  EXPECT_EQ(r.final_report.total_examples, data().train.rows);
  EXPECT_TRUE(r.checkpoint.empty());
  std::ifstream after_in(path, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(after_in)), {});
  EXPECT_EQ(before, after) << "the checkpoint must not be rewritten";
  std::remove(path.c_str());
}

// The coordinator's own errors (here: the divergence found by an evaluation while the workers
// are parked) stop and join every thread and come out as one Error, not std::terminate.
TEST(Trainer, DivergenceFoundWhileWorkersAreParkedIsReportedAsDivergence) {
  TrainConfig c = config(SyncMethod::None, "package:1 core:1 pu:1", 1);
  c.optimizer.dense = DenseOptimizer::Sgd;
  c.optimizer.lr = 1.6f;
  c.eval_every = 128;
  const std::string message = error_of([&] { train(c); });
  EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
  EXPECT_NE(message.find("at about"), std::string::npos) << message;
}

// A learning rate so large that the loss explodes without overflowing (exit 0 with NE 4e9
// before): the loss rule stops it, names the example count and the learning rates, and the
// checkpoint of an earlier good run at the same path is kept as it was.
TEST(Trainer, AFiniteButExplodingLossIsDivergenceAndKeepsTheLastGoodCheckpoint) {
  const std::string path = temp_path("diverge.ckpt");
  std::remove(path.c_str());
  TrainConfig good = config(SyncMethod::None, "package:1 core:1 pu:1", 1);
  good.max_examples = 4096;
  good.checkpoint_path = path;
  train(good);
  std::ifstream before_in(path, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(before_in)), {});
  ASSERT_FALSE(before.empty());

  TrainConfig c = config(SyncMethod::None, "package:1 core:1 pu:1", 1);
  c.model = ModelConfig::preset("tiny", kHashing);
  c.optimizer.lr = 1e6f;  // the dense weights explode; the loss stays finite (NaN with emb_lr 1e6 too)
  c.checkpoint_path = path;
  c.checkpoint_every = 8192;
  const std::string message = error_of([&] { train(c); });
  EXPECT_NE(message.find("training diverged at about"), std::string::npos) << message;
  EXPECT_NE(message.find("log loss"), std::string::npos) << message;
  EXPECT_NE(message.find("--lr (now 1e+06) / --emb-lr (now 0.05)"), std::string::npos) << message;
  std::ifstream after_in(path, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(after_in)), {});
  EXPECT_TRUE(after == before) << "a diverged model must not replace the last good checkpoint";
  std::remove(path.c_str());
}

// A run too short for the loss rule's windows is judged on its whole stretch at the end, and
// without evaluation rows too: it does not end with exit 0 and an absurd model.
TEST(Trainer, AShortDivergedRunWithoutEvaluationIsRefusedAtItsEnd) {
  TrainConfig c = config(SyncMethod::None, "package:1 core:1 pu:1", 1);
  c.model = ModelConfig::preset("tiny", kHashing);
  c.optimizer.lr = 1e6f;
  c.max_examples = 2048;
  const std::string message = error_of([&] {
    Trainer trainer(c, data().train, DataView{});
    trainer.run();
  });
  EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
}

TEST(Trainer, EmptyEvaluationDataGivesNoEvaluation) {
  TrainConfig c = config(SyncMethod::None, kTwoSockets, 1);
  Trainer trainer(c, data().train, DataView{});
  const TrainResult r = trainer.run();
  EXPECT_EQ(r.final_report.examples, data().train.rows);
  EXPECT_FALSE(r.final_report.eval.has_value());
}

TEST(Trainer, OutOfRangeOptionsAreRefusedUpFront) {
  TrainConfig c = config(SyncMethod::None, kTwoSockets, 1);
  c.batch = 2147483647;
  EXPECT_NE(error_of([&] { train(c); }).find("--batch expects an integer in [1, 1048576], got 2147483647"), std::string::npos);
}

}  // namespace
}  // namespace shadowsync
