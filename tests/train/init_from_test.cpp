// Starting a run from a trained model (TrainConfig::init_from): the run starts with exactly the
// checkpoint's mean replica, mean optimizer state, tables and accumulators (so day 1 then day 2
// equals days 1 and 2 in one deterministic run), counts examples anew, records the chain of
// checkpoints it came from (kept by resume, read back by TrainedModel), and refuses another
// schema, hashing, model or optimizer, resume, its own output path and unreadable files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "../common/error_text.hpp"
#include "../common/generated_data.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/run_options.hpp"
#include "shadowsync/train/train_state.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "shadowsync/train/trainer.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_header.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kRows = 12800;
constexpr uint64_t kDay1 = 6400;  // a multiple of the batch: day 2's first batch is the joint run's
const HashingConfig kHashing = HashingConfig::uniform(512);

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_init_from", name); }

const Dataset& dataset() {
  static test::GeneratedData d;
  if (!d.dataset) d = test::generate_dataset("shadowsync_init_from", kRows, 3, kHashing, 0.0);
  return *d.dataset;
}
DataParts rows(uint64_t begin, uint64_t end) { return DataParts(dataset().view()).slice(begin, end); }

// Deterministic: one group, one worker, no sync.
TrainConfig config(int groups = 1) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = SyncMethod::None;
  c.topology = groups == 1 ? "package:1 numa:1 core:1 pu:1" : "package:2 numa:1 core:1 pu:1";
  c.placement.threads_per_group = 1;
  c.batch = 64;
  c.deterministic = true;
  return c;
}

// Trains `c` on rows [begin, end) and writes its checkpoint to `name`; returns the path.
std::string trained(const std::string& name, TrainConfig c, uint64_t begin, uint64_t end) {
  c.checkpoint_path = temp_path(name);
  Trainer trainer(c, rows(begin, end), DataView{});
  trainer.run();
  return c.checkpoint_path;
}

std::vector<float> section(const std::string& path, const char* name) {
  CheckpointReader reader(path);
  std::vector<float> out(reader.section_bytes(name) / sizeof(float));
  reader.read_floats(name, out.data(), out.size());
  return out;
}

// The tables (or accumulators) of a store, back to back as a checkpoint section holds them.
std::vector<float> tables_of(const EmbeddingStore& e, bool accumulators) {
  std::vector<float> out;
  for (int t = 0; t < e.hashing().tables(); ++t) {
    const float* p = accumulators ? e.accumulator(t) : e.table_data(t);
    out.insert(out.end(), p, p + (accumulators ? e.rows(t) : e.table_floats(t)));
  }
  return out;
}

TEST(InitFrom, EveryReplicaStartsFromTheCheckpointsMeanReplicaTablesAndAccumulators) {
  // Two groups without sync: the checkpoint's replicas differ.
  const std::string source = trained("two_groups.ckpt", config(2), 0, kDay1);
  const std::vector<float> replicas = section(source, "replicas");
  const size_t n = replicas.size() / 2;
  ASSERT_NE(0, std::memcmp(replicas.data(), replicas.data() + n, n * sizeof(float)));
  const TrainedModel model = TrainedModel::load(source);  // its dense model: the mean replica
  for (int groups : {1, 2}) {
    TrainConfig c = config(groups);
    c.init_from = source;
    const Trainer trainer(c, rows(kDay1, kRows), DataView{});
    ASSERT_EQ(trainer.replicas().size(), static_cast<size_t>(groups));
    for (const float* r : trainer.replicas()) {
      EXPECT_EQ(0, std::memcmp(r, model.dense(), n * sizeof(float))) << groups;
      EXPECT_EQ(r[0], 0.5f * (replicas[0] + replicas[n])) << groups;
    }
    EXPECT_EQ(tables_of(trainer.embeddings(), false), section(source, "embeddings")) << groups;
    EXPECT_EQ(tables_of(trainer.embeddings(), true), section(source, "embedding_state")) << groups;
  }
}

TEST(InitFrom, TheSyncRuleStartsFromTheLoadedModelNotTheSeed) {
  // BMUF's global model starts at replica 0 when the rule is made: it must be the loaded model.
  const std::string source = trained("for_bmuf.ckpt", config(), 0, kDay1);
  TrainConfig c = config(2);
  c.sync = SyncMethod::parse("fr-bmuf");
  c.sync_every = 1 << 30;  // no round in this run: the saved global model is the starting one
  c.init_from = source;
  const std::string out = trained("bmuf.ckpt", c, kDay1, kRows);
  const std::vector<float> sync_state = section(out, "sync_state");
  const TrainedModel model = TrainedModel::load(source);
  const size_t n = model.model().layout().total_floats;
  ASSERT_EQ(sync_state.size(), 2 * n);
  EXPECT_EQ(0, std::memcmp(sync_state.data(), model.dense(), n * sizeof(float)));
}

TEST(InitFrom, DayOneThenDayTwoEqualsBothDaysInOneRunAndCountsExamplesAnew) {
  // The dense optimizer state and the accumulators carry over exactly: with one worker, day 2
  // continued from day 1 is bit for bit the run over both days.
  const std::string day1 = trained("day1.ckpt", config(), 0, kDay1);
  TrainConfig c = config();
  c.init_from = day1;
  c.checkpoint_path = temp_path("day2.ckpt");
  Trainer continued(c, rows(kDay1, kRows), DataView{});
  const TrainResult result = continued.run();
  EXPECT_EQ(result.final_report.examples, kRows - kDay1);
  EXPECT_EQ(result.final_report.total_examples, kRows - kDay1);

  Trainer both(config(), rows(0, kRows), DataView{});
  both.run();
  const size_t n = continued.model().layout().total_floats;
  EXPECT_EQ(0, std::memcmp(continued.final_dense(), both.final_dense(), n * sizeof(float)));
  EXPECT_EQ(tables_of(continued.embeddings(), false), tables_of(both.embeddings(), false));
  EXPECT_EQ(tables_of(continued.embeddings(), true), tables_of(both.embeddings(), true));

  // The new checkpoint counts day 2 only; its progress is day 2's.
  CheckpointReader reader(c.checkpoint_path);
  const nlohmann::json header = reader.json("header");
  EXPECT_EQ(header["examples"], kRows - kDay1);
  EXPECT_EQ(header["progress"][0]["batches"], (kRows - kDay1) / 64);
  EXPECT_EQ(header["data"]["train_rows"], kRows - kDay1);
  EXPECT_EQ(TrainedModel::load(c.checkpoint_path).examples_trained(), kRows - kDay1);
}

TEST(InitFrom, TheChainOfOriginsIsRecordedCarriedOverKeptByResumeAndReadBack) {
  const std::string a = trained("chain_a.ckpt", config(), 0, 3200);
  EXPECT_TRUE(TrainedModel::load(a).init_chain().empty());
  EXPECT_FALSE(CheckpointReader(a).json("header").contains("init_chain"));  // a run from its seed: as before

  TrainConfig cb = config();
  cb.init_from = a;
  const std::string b = trained("chain_b.ckpt", cb, 3200, 6400);
  TrainConfig cc = config();
  cc.init_from = b;
  const std::string c = trained("chain_c.ckpt", cc, 6400, 9600);

  const auto origin = [](const std::string& path, uint64_t examples) {
    CheckpointReader reader(path);
    return InitOrigin{std::filesystem::absolute(path).lexically_normal().string(), examples, reader.content_checksum(),
                      reader.json("header")["data"]["fingerprint"].get<std::string>()};
  };
  const std::vector<InitOrigin> b_chain = {origin(a, 3200)};
  const std::vector<InitOrigin> c_chain = {origin(a, 3200), origin(b, 3200)};
  EXPECT_EQ(TrainedModel::load(b).init_chain(), b_chain);
  EXPECT_EQ(TrainedModel::load(c).init_chain(), c_chain);
  EXPECT_EQ(c_chain[0].checksum.size(), 16u);
  EXPECT_NE(c_chain[0].checksum, c_chain[1].checksum);
  EXPECT_EQ(CheckpointReader(c).json("header")["init_chain"][1]["examples_trained"], 3200);

  // A stopped run started from a keeps its chain through --resume.
  TrainConfig stopped = config();
  stopped.init_from = a;
  stopped.max_examples = 1280;
  const std::string part = trained("chain_stopped.ckpt", stopped, 3200, 6400);
  EXPECT_EQ(TrainedModel::load(part).init_chain(), b_chain);
  TrainConfig resumed = config();
  resumed.resume_path = part;
  resumed.checkpoint_path = part;
  Trainer trainer(resumed, rows(3200, 6400), DataView{});
  EXPECT_EQ(trainer.init_chain(), b_chain);
  trainer.run();
  EXPECT_EQ(TrainedModel::load(part).init_chain(), b_chain);
  EXPECT_EQ(TrainedModel::load(part).examples_trained(), 3200u);
  // ... and ends where the run that was never stopped ends.
  EXPECT_EQ(section(part, "replicas"), section(b, "replicas"));
}

// A checkpoint of model `m` written as the trainer writes one (nothing trained).
std::string checkpoint_of(const ModelConfig& m, const std::string& name, DenseOptimizer optimizer = DenseOptimizer::Adagrad) {
  TrainConfig c = config();
  c.model = m;
  c.optimizer.dense = optimizer;
  const Model model(c.model);
  TrainState state(model, 1, TrainState::Parts::Everything, [](int) -> MemoryResource& { return default_memory(); },
                   default_memory());
  state.initialize(model, 5);
  state.progress.assign(1, GroupProgressState{});
  const std::string path = temp_path(name);
  state.save(path, train::make_checkpoint_header(c, 1, state, train::DataIdentity{100, 0, "x"}));
  return path;
}

TEST(InitFrom, RefusalsNameWhatDiffers) {
  const auto refused = [](TrainConfig c) {
    return test::cli_error_of([&] { Trainer trainer(c, rows(0, 3200), DataView{}); });
  };
  TrainConfig c = config();

  // Another schema: the first column that differs (checkpoint vs this run's data).
  FeatureSchema renamed = FeatureSchema::criteo();
  renamed.columns[1].name = "count";
  ModelConfig other_schema = c.model;
  other_schema.schema = renamed;
  c.init_from = checkpoint_of(other_schema, "schema.ckpt");
  EXPECT_EQ(refused(c), "--init-from '" + c.init_from + "': checkpoint was trained on data of another schema "
                        "(checkpoint vs this run's --data: column 1: count (numeric) vs I1 (numeric))");

  // Other hashing: another salt.
  ModelConfig salted = c.model;
  salted.hashing.salt = 7;
  c.init_from = checkpoint_of(salted, "salt.ckpt");
  EXPECT_EQ(refused(c), "--init-from '" + c.init_from + "': checkpoint was written with other hashing parameters "
                        "(rows per table or salt differ from this run's --rows-per-table / --hash-salt: checkpoint vs "
                        "this run: " + salted.differences(c.model) + ")");
  EXPECT_NE(salted.differences(c.model).find("salt"), std::string::npos);

  // Another model.
  const ModelConfig tiny = ModelConfig::preset("tiny", kHashing);
  c.init_from = checkpoint_of(tiny, "tiny.ckpt");
  EXPECT_EQ(refused(c), "--init-from '" + c.init_from + "': checkpoint is for another model (checkpoint vs this "
                        "run's --model: " + tiny.differences(c.model) + ")");

  // Another dense optimizer.
  c.init_from = checkpoint_of(c.model, "sgd.ckpt", DenseOptimizer::Sgd);
  EXPECT_EQ(refused(c), "--init-from '" + c.init_from + "': checkpoint was trained with the dense optimizer \"sgd\", "
                        "this run asks for adagrad (its optimizer state would not carry over; use the same --optimizer)");

  // With resume.
  const std::string good = checkpoint_of(c.model, "good.ckpt");
  c.init_from = good;
  c.resume_path = good;
  EXPECT_EQ(refused(c), "--init-from and --resume exclude each other: --resume finishes a run on its own data, "
                        "--init-from starts a new run from a trained model");
  c.resume_path.clear();

  // Its own output path (the checkpoint would replace the model it starts from).
  c.checkpoint_path = good;
  EXPECT_EQ(refused(c), "--checkpoint '" + good + "' is the same file as --init-from '" + good +
                        "'; writing it would destroy that input: choose another output path");
  c.checkpoint_path.clear();

  // Unreadable, and not a checkpoint.
  c.init_from = temp_path("missing.ckpt");
  EXPECT_EQ(refused(c), "--init-from: checkpoint " + c.init_from + ": cannot open: No such file or directory");
  c.init_from = temp_path("not_a_checkpoint.ckpt");
  std::ofstream(c.init_from) << "label\tI1\nnot a checkpoint at all\n";
  EXPECT_EQ(refused(c), "--init-from: checkpoint '" + c.init_from + "': not a shadowsync checkpoint (wrong magic)");

  // An empty path (the option's text).
  RunSettings settings;
  EXPECT_EQ(test::cli_error_of([&] { settings.set_text("init_from", ""); }), "--init-from expects a string, got '': a checkpoint path");

  // Nothing differs: accepted.
  c.init_from = good;
  EXPECT_EQ(refused(c), "(no error)");
}

TEST(InitFrom, ModelConfigOfACheckpointIsReadFromItsHeader) {
  const ModelConfig tiny = ModelConfig::preset("tiny", kHashing);
  EXPECT_EQ(init_from_model_config(checkpoint_of(tiny, "model.ckpt")), tiny);
  const std::string missing = temp_path("no_such.ckpt");
  EXPECT_EQ(test::cli_error_of([&] { init_from_model_config(missing); }),
            "--init-from: checkpoint " + missing + ": cannot open: No such file or directory");
}

}  // namespace
}  // namespace shadowsync
