// The engine as a library (include/shadowsync/train/trainer.hpp, train_observer.hpp,
// train_state.hpp): a given plan is used as is, the observer hears every report in run order and
// nothing is printed, the stop token stops a run with a resumable checkpoint, an observer's
// exception ends the run with every thread joined, and TrainState's one save and load round-trip.
#include "shadowsync/train/trainer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/train_state.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "train/checkpoint.hpp"
#include "../common/generated_data.hpp"

namespace shadowsync {
namespace {

const HashingConfig kHashing = HashingConfig::uniform(1024);

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_engine", name); }

const test::GeneratedData& data() {
  static const test::GeneratedData d = test::generate_dataset("shadowsync_engine", 30000, 5, kHashing, 0.1);
  return d;
}

TrainConfig config(SyncMethod sync) {
  TrainConfig c;
  c.model = ModelConfig::preset("tiny", kHashing);
  c.sync = sync;
  c.topology = "package:2 numa:1 core:1 pu:1";
  c.placement.threads_per_group = 1;
  c.batch = 64;
  c.sync_every = 2;
  return c;
}

// Records every call, in order.
struct Recorder : TrainObserver {
  double interval = 0;
  std::vector<std::string> calls;
  std::vector<TrainReport> progress, evaluations, finals;
  std::vector<PacingReport> pacing;
  std::vector<std::string> warnings;
  double progress_interval_s() const override { return interval; }
  void on_start() override { calls.push_back("start"); }
  void on_warning(const std::string& m) override { warnings.push_back(m); }
  void on_pacing(const PacingReport& p) override {
    calls.push_back("pacing");
    pacing.push_back(p);
  }
  void on_progress(const TrainReport& r) override {
    calls.push_back("progress");
    progress.push_back(r);
  }
  void on_evaluation(const TrainReport& r) override {
    calls.push_back("eval");
    evaluations.push_back(r);
  }
  void on_checkpoint(const CheckpointReport&) override { calls.push_back("checkpoint"); }
  void on_training_done() override { calls.push_back("done"); }
  void on_final(const TrainReport& r) override {
    calls.push_back("final");
    finals.push_back(r);
  }
};

TEST(Engine, UsesTheGivenPlanInsteadOfPlanningFromTheConfiguration) {
  const numa::Topology topology = numa::Topology::load("package:3 numa:1 core:1 pu:1");
  numa::PlacementOptions placement;
  placement.threads_per_group = 1;
  TrainerSetup setup;
  setup.plan = numa::make_plan(topology, placement);
  TrainConfig c = config(SyncMethod::None);  // its topology has 2 sockets; the plan has 3 groups
  Trainer trainer(c, data().train, data().eval, setup);
  EXPECT_EQ(trainer.groups(), 3);
  EXPECT_EQ(trainer.plan().groups.size(), 3u);
  EXPECT_EQ(trainer.plan().topology_spec, "package:3 numa:1 core:1 pu:1");
  const TrainResult r = trainer.run();
  EXPECT_EQ(r.final_report.groups.size(), 3u);
  EXPECT_EQ(r.final_report.examples, data().train.rows);
}

// The synthetic topology has no spare processing unit, so auto pacing paces the shadow thread
// by training progress: a round starts only after sync_round_iterations iterations of each group
// (x batch x groups examples) since the previous round started. Counts only, no timing.
TEST(Engine, AShadowThreadOnASharedCoreIsPacedByTrainingProgress) {
  TrainConfig c = config(SyncMethod::ShadowPA);
  c.sync_round_iterations = 3;
  Trainer trainer(c, data().train, data().eval);
  const TrainReport r = trainer.run().final_report;
  EXPECT_EQ(r.sync_round_iterations, 3u);
  EXPECT_EQ(r.sync_interval_ms, 0) << "not paced by time";
  const uint64_t per_round = 3 * 64 * 2;
  EXPECT_GE(r.sync_rounds, 1u);
  EXPECT_LE(r.sync_rounds, r.examples / per_round + 1) << "more rounds than the target allows";
  ASSERT_TRUE(r.sync_gap.has_value());
  EXPECT_GE(*r.sync_gap, 3.0 * static_cast<double>(r.examples / per_round) / static_cast<double>(r.examples / per_round + 1));
  // An explicit interval keeps its time pacing; foreground modes are not paced.
  TrainConfig timed = config(SyncMethod::ShadowPA);
  timed.sync_interval_ms = 2;
  const TrainReport t = Trainer(timed, data().train, data().eval).run().final_report;
  EXPECT_EQ(t.sync_round_iterations, 0u);
  EXPECT_EQ(t.sync_interval_ms, 2);
  const TrainReport f = Trainer(config(SyncMethod::ForegroundPA), data().train, data().eval).run().final_report;
  EXPECT_EQ(f.sync_round_iterations, 0u);
}

TEST(TrainConfigDefaults, SyncIsShadowProgressAveragingPacedEveryFourIterations) {
  TrainConfig c;
  EXPECT_EQ(c.sync, SyncMethod::ShadowPA);
  EXPECT_EQ(c.sync.name(), "s-pa");
  EXPECT_EQ(c.sync_round_iterations, 4);
  EXPECT_EQ(c.to_json()["sync_round_iterations"], 4);
  EXPECT_EQ(c.to_json()["sync"], "s-pa");
  c.sync_round_iterations = 0;
  try {
    c.validate();
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sync_round_iterations expects an integer in [1, 1073741824], got 0");
  }
}

TEST(Engine, ObserverHearsEveryReportInRunOrderAndNothingIsPrinted) {
  Recorder recorder;
  recorder.interval = 0.001;
  TrainConfig c = config(SyncMethod::ShadowMA);
  // Ten passes, so that the coordinator (which looks every 20 ms) sees each evaluation point long
  // before the run ends, however fast the machine.
  c.epochs = 10;
  c.eval_every = 90000;
  c.sync_interval_ms = TrainConfig::kAutoSyncInterval;  // no spare PU: paced, and the pacing reported
  TrainerSetup setup;
  setup.observer = &recorder;
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  Trainer trainer(c, data().train, data().eval, setup);
  const TrainResult result = trainer.run();
  const std::string err = testing::internal::GetCapturedStderr();
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(err, "") << "the engine printed";
  EXPECT_EQ(out, "") << "the engine printed";
  ASSERT_GE(recorder.calls.size(), 4u);
  EXPECT_EQ(recorder.calls.front(), "start");
  EXPECT_EQ(recorder.calls[1], "pacing");
  EXPECT_EQ(recorder.calls.back(), "final");
  EXPECT_EQ(recorder.calls[recorder.calls.size() - 2], "done");
  ASSERT_EQ(recorder.pacing.size(), 1u);
  EXPECT_EQ(recorder.pacing[0].round_iterations, c.sync_round_iterations);
  EXPECT_EQ(recorder.pacing[0].examples_per_round, static_cast<uint64_t>(c.sync_round_iterations) * 64 * 2)
      << "iterations x batch x groups";
  EXPECT_EQ(recorder.evaluations.size(), 2u);  // at about 90000 and 180000 of 270000 examples
  for (const TrainReport& e : recorder.evaluations) {
    EXPECT_EQ(e.kind, ReportKind::Evaluation);
    ASSERT_TRUE(e.eval.has_value());
    EXPECT_EQ(e.eval->examples, data().eval.rows);
  }
  for (const TrainReport& p : recorder.progress) EXPECT_EQ(p.kind, ReportKind::Progress);
  ASSERT_EQ(recorder.finals.size(), 1u);
  EXPECT_EQ(recorder.finals[0].kind, ReportKind::Final);
  EXPECT_EQ(recorder.finals[0].examples, result.final_report.examples);
  // The pacing reported at the start is the one in force at the end.
  EXPECT_EQ(recorder.finals[0].sync_interval_ms, 0);
  EXPECT_EQ(recorder.finals[0].sync_round_iterations, static_cast<uint64_t>(c.sync_round_iterations));
  EXPECT_EQ(recorder.warnings.size(), 1u) << "a synthetic topology cannot be bound: one warning";
  EXPECT_EQ(nlohmann::json(recorder.finals[0].to_json())["event"], "final");
}

// Evaluations and checkpoints happen at their grid points (the first batch boundary at or past
// start + k x every, one worker) even when the coordinator is slow: this observer sleeps in every
// report, long enough for the workers to train past several points were they not held there.
TEST(Engine, EvaluationsAndCheckpointsHappenAtTheirPointsHoweverLateTheCoordinatorLooks) {
  const std::string path = temp_path("grid.ckpt");
  struct Slow : Recorder {
    std::vector<uint64_t> checkpoints;
    void on_evaluation(const TrainReport& r) override {
      Recorder::on_evaluation(r);
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
    void on_checkpoint(const CheckpointReport& r) override {
      Recorder::on_checkpoint(r);
      checkpoints.push_back(r.examples);
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
  };
  for (const bool deterministic : {false, true}) {
    SCOPED_TRACE(deterministic ? "deterministic" : "hogwild");
    TrainConfig c = config(deterministic ? SyncMethod::ForegroundMA : SyncMethod::ShadowMA);
    c.topology = "package:1 numa:1 core:1 pu:1";  // one group of one worker
    c.deterministic = deterministic;
    c.batch = 64;
    c.max_examples = 10000;
    c.eval_every = 1000;
    c.checkpoint_every = 1500;
    c.checkpoint_path = path;
    std::filesystem::remove(path);
    Slow observer;
    TrainerSetup setup;
    setup.observer = &observer;
    Trainer trainer(c, data().train, data().eval, setup);
    const TrainResult result = trainer.run();
    // 1000 -> 1024 (16 batches), 2000 -> 2048, ..., 9000 -> 9024; none at the run's end (10048).
    std::vector<uint64_t> evaluated, expected_evaluations, expected_checkpoints;
    for (const TrainReport& e : observer.evaluations) evaluated.push_back(e.examples);
    for (uint64_t point = 1000; point < 10000; point += 1000) expected_evaluations.push_back((point + 63) / 64 * 64);
    for (uint64_t point = 1500; point < 10000; point += 1500) expected_checkpoints.push_back((point + 63) / 64 * 64);
    EXPECT_EQ(evaluated, expected_evaluations);
    EXPECT_EQ(observer.checkpoints, expected_checkpoints);
    EXPECT_EQ(result.final_report.examples, 10048u);
    // At 3000, 6000 and 9000 both are due: one pause, the evaluation first.
    int both = 0;
    for (size_t i = 0; i + 1 < observer.calls.size(); ++i) {
      both += observer.calls[i] == "eval" && observer.calls[i + 1] == "checkpoint";
    }
    EXPECT_EQ(both, 6);  // in grid order: 1024 / 1536, 3008 / 3008, 4032 / 4544, 6016 / 6016, ...
    EXPECT_EQ(std::count(observer.calls.begin(), observer.calls.end(), "eval"), 9);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
}

// The same with two groups of two workers: holds meet foreground barriers (fr-ma: every worker
// at each sync point) and the shadow thread (s-ma). Each point is taken within one batch per
// worker past it (a worker may claim while another reaches the hold), none is skipped, and no
// run hangs.
TEST(Engine, HoldsWithSeveralWorkersPerGroupTakeEveryPointWithinABatchPerWorker) {
  const std::string path = temp_path("grid4.ckpt");
  struct Points : Recorder {
    std::vector<uint64_t> checkpoints;
    void on_evaluation(const TrainReport& r) override {
      Recorder::on_evaluation(r);
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    void on_checkpoint(const CheckpointReport& r) override {
      Recorder::on_checkpoint(r);
      checkpoints.push_back(r.examples);
    }
  };
  constexpr uint64_t kWorkers = 4, kBatch = 64;
  for (const SyncMethod sync : {SyncMethod::ForegroundMA, SyncMethod::ShadowMA}) {
    SCOPED_TRACE(sync.name());
    TrainConfig c = config(sync);
    c.topology = "package:2 numa:1 core:2 pu:1";
    c.placement.threads_per_group = 2;
    c.batch = static_cast<int>(kBatch);
    c.max_examples = 10000;
    c.eval_every = 1000;
    c.checkpoint_every = 1500;
    c.checkpoint_path = path;
    std::filesystem::remove(path);
    Points observer;
    TrainerSetup setup;
    setup.observer = &observer;
    Trainer trainer(c, data().train, data().eval, setup);
    trainer.run();
    ASSERT_EQ(observer.evaluations.size(), 9u);
    for (size_t k = 0; k < 9; ++k) {
      const uint64_t point = 1000 * (k + 1), at = observer.evaluations[k].examples;
      EXPECT_GE(at, point) << k;
      EXPECT_LT(at, point + kWorkers * kBatch) << k;
    }
    ASSERT_EQ(observer.checkpoints.size(), 6u);
    for (size_t k = 0; k < 6; ++k) {
      const uint64_t point = 1500 * (k + 1), at = observer.checkpoints[k];
      EXPECT_GE(at, point) << k;
      EXPECT_LT(at, point + kWorkers * kBatch) << k;
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
}

TEST(Engine, StopTokenStopsTheRunWithACheckpointThatResumesToTheEnd) {
  const std::string path = temp_path("stopped.ckpt");
  std::filesystem::remove(path);
  // Five passes, so that the stop (at the first progress report, 20 ms in) comes well before the
  // end however fast the machine.
  TrainConfig c = config(SyncMethod::ForegroundMA);
  c.epochs = 5;
  c.deterministic = true;
  c.stop_checkpoint_path = path;
  std::stop_source source;
  struct StopAtFirstProgress : Recorder {
    std::stop_source* source = nullptr;
    void on_progress(const TrainReport& r) override {
      Recorder::on_progress(r);
      source->request_stop();
    }
  } observer;
  observer.interval = 0.0001;
  observer.source = &source;
  TrainerSetup setup;
  setup.observer = &observer;
  setup.stop = source.get_token();
  Trainer trainer(c, data().train, data().eval, setup);
  const TrainResult stopped = trainer.run();
  EXPECT_TRUE(stopped.stop_requested);
  EXPECT_TRUE(stopped.stopped_early);
  EXPECT_FALSE(stopped.stop_after_training);
  EXPECT_EQ(stopped.checkpoint, path);
  EXPECT_LT(stopped.final_report.examples, 5 * data().train.rows);
  ASSERT_TRUE(std::filesystem::exists(path));

  // Resuming it finishes the data, and matches an uninterrupted deterministic run bit for bit.
  TrainConfig resume = config(SyncMethod::ForegroundMA);
  resume.epochs = 5;
  resume.deterministic = true;
  resume.resume_path = path;
  Trainer resumed(resume, data().train, data().eval);
  const TrainResult finished = resumed.run();
  EXPECT_FALSE(finished.stopped_early);
  EXPECT_EQ(finished.final_report.examples, 5 * data().train.rows);
  TrainConfig whole = config(SyncMethod::ForegroundMA);
  whole.epochs = 5;
  whole.deterministic = true;
  Trainer uninterrupted(whole, data().train, data().eval);
  uninterrupted.run();
  const size_t n = uninterrupted.model().layout().total_floats;
  EXPECT_EQ(0, std::memcmp(uninterrupted.final_dense(), resumed.final_dense(), n * sizeof(float)));
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".lock");
}

TEST(Engine, AnObserversExceptionEndsTheRunWithEveryThreadJoined) {
  struct Failing : TrainObserver {
    double progress_interval_s() const override { return 0.0001; }
    void on_progress(const TrainReport&) override { throw Error("the front end could not show progress"); }
  } failing;
  TrainerSetup setup;
  setup.observer = &failing;
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.epochs = 10;  // the first progress report (20 ms in) comes long before the end
  Trainer trainer(c, data().train, data().eval, setup);
  try {
    trainer.run();
    FAIL() << "run() returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the front end could not show progress");
  }
}

TEST(TrainState, SaveAndLoadRoundTripEverySection) {
  const Model model(ModelConfig::preset("tiny", kHashing));
  auto memory = [](int) -> MemoryResource& { return default_memory(); };
  TrainState a(model, 2, TrainState::Parts::Everything, memory, default_memory());
  a.initialize(model, 3);
  for (size_t i = 0; i < a.dense_floats(); ++i) {
    a.replica(1)[i] += 0.5f;
    a.optimizer_state(0)[i] = static_cast<float>(i);
    a.optimizer_state(1)[i] = -static_cast<float>(i);
  }
  std::vector<float> sync_state(a.dense_floats(), 0.25f);
  a.set_sync_state({{sync_state.data(), sync_state.size()}});
  a.progress = {{1, 64, 1, 0}, {2, 128, 2, 1}};
  const std::string path = temp_path("state.ckpt");
  a.save(path, nlohmann::json{{"format", "test"}});

  TrainState b(model, 2, TrainState::Parts::Everything, memory, default_memory());
  std::vector<float> loaded_sync(a.dense_floats(), 0.0f);
  b.set_sync_state({{loaded_sync.data(), loaded_sync.size()}});
  CheckpointReader reader(path);
  b.load(reader, "test", "this run");
  const size_t bytes = a.dense_floats() * sizeof(float);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(0, std::memcmp(a.replica(r), b.replica(r), bytes));
    EXPECT_EQ(0, std::memcmp(a.optimizer_state(r), b.optimizer_state(r), bytes));
  }
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(0, std::memcmp(a.embeddings().table_data(t), b.embeddings().table_data(t),
                             a.embeddings().table_floats(t) * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.embeddings().accumulator(t), b.embeddings().accumulator(t),
                             a.embeddings().rows(t) * sizeof(float)));
  }
  EXPECT_EQ(loaded_sync, sync_state);

  // A state without sync state refuses the section; a model-only state ignores it.
  TrainState no_sync(model, 2, TrainState::Parts::Everything, memory, default_memory());
  try {
    no_sync.load(reader, "test", "this run");
    FAIL() << "sync_state accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "test: section 'sync_state' is not used by this run");
  }
  TrainState model_only(model, 2, TrainState::Parts::Model, memory, default_memory());
  model_only.load(reader, "test", "");
  EXPECT_EQ(0, std::memcmp(a.replica(1), model_only.replica(1), bytes));

  // Another replica count does not fit: the size is named before anything is read.
  TrainState three(model, 3, TrainState::Parts::Everything, memory, default_memory());
  try {
    three.load(reader, "test", "this run");
    FAIL() << "a 2-replica checkpoint loaded into 3 replicas";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("replicas"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// Every report carries the training NE of its running log loss: running_logloss divided by the
// entropy of the training rows' positive rate (computed here from the labels), also in its
// metrics line.
TEST(Engine, ReportsCarryTheTrainingNEOfTheirRunningLogLoss) {
  Recorder recorder;
  recorder.interval = 0.001;
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.epochs = 3;
  TrainerSetup setup;
  setup.observer = &recorder;
  Trainer trainer(c, data().train, data().eval, setup);
  trainer.run();
  double positives = 0;
  for (size_t i = 0; i < data().train.rows; ++i) positives += data().train.labels[i];
  const double entropy = binary_entropy(positives / static_cast<double>(data().train.rows));
  std::vector<TrainReport> reports = recorder.progress;
  reports.insert(reports.end(), recorder.finals.begin(), recorder.finals.end());
  int checked = 0;
  for (const TrainReport& r : reports) {
    if (!std::isfinite(r.running_logloss)) continue;
    EXPECT_NEAR(r.running_ne, r.running_logloss / entropy, 1e-12) << r.examples;
    EXPECT_NEAR(nlohmann::json(r.to_json())["running_ne"].get<double>(), r.running_ne, 1e-12);
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

}  // namespace
}  // namespace shadowsync
