// Resuming and reading trainer checkpoints: --resume refuses other data, another eval split,
// another sync mode, optimizer state setting or model with one line naming both sides; every
// header field is type-, range- and consistency-checked with a message naming the field; old
// checkpoints without the data identity are refused; TrainedModel::load checks sizes before
// allocating; a second run on the same checkpoint path is refused while the first holds it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "train/checkpoint.hpp"
#include "train/checkpoint_header.hpp"
#include "shadowsync/train/train_state.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/core/error.hpp"
#include "../common/error_text.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "shadowsync/train/trainer.hpp"
#include "../common/generated_data.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kRows = 20000;
const HashingConfig kHashing = HashingConfig::uniform(512);
const char* const kTwoGroups = "package:2 numa:1 core:1 pu:1";

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_resume", name); }

// Two generated data sets of the same size (seeds 3 and 4), opened once for the binary.
const Dataset& dataset(uint64_t seed) {
  static test::GeneratedData sets[2];
  test::GeneratedData& d = sets[seed == 3 ? 0 : 1];
  if (!d.dataset) d = test::generate_dataset("shadowsync_resume", kRows, seed, kHashing, 0.0);
  return *d.dataset;
}

std::pair<DataView, DataView> split(double eval_fraction, uint64_t seed = 3) {
  return split_eval_tail(dataset(seed).view(), eval_fraction);
}

TrainConfig config(SyncMethod mode) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = mode;
  c.topology = kTwoGroups;
  c.placement.threads_per_group = 1;
  c.batch = 64;
  c.sync_every = 4;
  return c;
}

// A checkpoint of a stopped s-ma run (about a third of the rows) on seed 3 with 10% held out.
std::string stopped_checkpoint(const std::string& name, SyncMethod mode = SyncMethod::ShadowMA) {
  const std::string path = temp_path(name);
  TrainConfig c = config(mode);
  c.checkpoint_path = path;
  c.max_examples = kRows / 3;
  const auto [train, eval] = split(0.1);
  Trainer trainer(c, train, eval);
  trainer.run();
  return path;
}

std::string resume_error(const std::string& path, TrainConfig c, double eval_fraction = 0.1, uint64_t seed = 3) {
  c.resume_path = path;
  const std::pair<DataView, DataView> views = split(eval_fraction, seed);
  return test::cli_error_of([&] { Trainer t(c, views.first, views.second); });
}

// Rewrites the checkpoint with `edit` applied to its header and `extra` sections appended.
void rewrite(const std::string& path, const std::function<void(nlohmann::json&)>& edit,
             const std::vector<std::string>& extra = {}) {
  std::vector<std::pair<std::string, std::vector<float>>> sections;
  nlohmann::json header;
  {
    CheckpointReader reader(path);
    header = reader.json("header");
    for (std::string_view name : kTrainerCheckpointSections) {
      if (name == "header" || !reader.has(name)) continue;
      std::vector<float> floats(reader.section_bytes(name) / sizeof(float));
      reader.read_floats(name, floats.data(), floats.size());
      sections.emplace_back(std::string(name), std::move(floats));
    }
  }
  edit(header);
  CheckpointWriter writer(path);
  writer.add_json("header", header);
  for (const auto& [name, floats] : sections) writer.add_floats(name, floats.data(), floats.size());
  for (const std::string& name : extra) writer.add_floats(name, nullptr, 0);
  writer.commit();
}

TEST(Resume, RefusesAnotherEvalSplitNamingBothSides) {
  const std::string path = stopped_checkpoint("split.ckpt");
  // Before: accepted, and the run trained about 4k rows of its first part twice.
  const std::string m = resume_error(path, config(SyncMethod::ShadowMA), 0.3);
  EXPECT_NE(m.find("--resume '" + path + "': checkpoint was trained on 18000 rows with 2000 held out (fingerprint \""),
            std::string::npos) << m;
  EXPECT_NE(m.find("this run has 14000 rows with 6000 held out"), std::string::npos) << m;
  // The same split resumes.
  EXPECT_EQ(resume_error(path, config(SyncMethod::ShadowMA), 0.1), "(no error)");
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

TEST(Resume, RefusesOtherDataOfTheSameSize) {
  const std::string path = stopped_checkpoint("other_data.ckpt");
  const std::string m = resume_error(path, config(SyncMethod::ShadowMA), 0.1, /*seed=*/4);
  EXPECT_NE(m.find("this run has as many rows but other data"), std::string::npos) << m;
  EXPECT_NE(split(0.1, 3).first.rows, 0u);
  EXPECT_NE(data_fingerprint(split(0.1, 3).first), data_fingerprint(split(0.1, 4).first));
  EXPECT_EQ(data_fingerprint(split(0.1, 3).first), data_fingerprint(split(0.1, 3).first));
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

// The optimizer state's setting must be the checkpoint's (a sum run's sync_state also holds b);
// a checkpoint written before the setting existed was trained with none.
TEST(Resume, RefusesAnotherOptimizerStateSyncNamingBoth) {
  const std::string path = stopped_checkpoint("state_sync.ckpt");  // s-ma, default none
  TrainConfig sum = config(SyncMethod::ShadowMA);
  sum.sync_optimizer_state = OptimizerStateSync::Sum;
  EXPECT_NE(resume_error(path, sum).find("checkpoint was trained with --sync-optimizer-state none, this run asks "
                                         "for sum (resume with the same --sync-optimizer-state: none)"),
            std::string::npos)
      << resume_error(path, sum);
  rewrite(path, [](nlohmann::json& h) { h.erase("sync_optimizer_state"); });  // an older checkpoint
  EXPECT_NE(resume_error(path, sum).find("trained with --sync-optimizer-state none, this run asks for sum"),
            std::string::npos);
  EXPECT_EQ(resume_error(path, config(SyncMethod::ShadowMA)), "(no error)");
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());

  const std::string sum_path = temp_path("state_sum.ckpt");
  TrainConfig c = sum;
  c.checkpoint_path = sum_path;
  c.max_examples = kRows / 3;
  const auto [train, eval] = split(0.1);
  Trainer(c, train, eval).run();
  EXPECT_EQ(CheckpointReader(sum_path).json("header").at("sync_optimizer_state"), "sum");
  EXPECT_NE(resume_error(sum_path, config(SyncMethod::ShadowMA))
                .find("trained with --sync-optimizer-state sum, this run asks for none (resume with the same "
                      "--sync-optimizer-state: sum)"),
            std::string::npos);
  EXPECT_EQ(resume_error(sum_path, sum), "(no error)");
  std::remove(sum_path.c_str());
  std::remove((sum_path + ".lock").c_str());
}

TEST(Resume, NamesBothSyncModesAndTheDifferingModelFields) {
  const std::string path = stopped_checkpoint("mode.ckpt");
  // Before: "section 'sync_state' is missing".
  std::string m = resume_error(path, config(SyncMethod::ShadowBMUF));
  EXPECT_NE(m.find("checkpoint was trained with s-ma, asked for s-bmuf"), std::string::npos) << m;

  TrainConfig tiny = config(SyncMethod::ShadowMA);
  tiny.model = ModelConfig::preset("tiny", kHashing);
  // Before: two whole JSON documents.
  m = resume_error(path, tiny);
  EXPECT_NE(m.find("another model (checkpoint vs this run's --model: bottom [64,16] vs [8,4]; top [256,64,1] vs "
                   "[8,1]; embedding_dim 16 vs 4)"),
            std::string::npos) << m;
  EXPECT_EQ(m.find('{'), std::string::npos) << m;
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

TEST(Resume, EveryHeaderFieldIsTypeRangeAndConsistencyChecked) {
  const std::string path = stopped_checkpoint("fields.ckpt");
  const std::vector<char> original = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  }();
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"float groups", [](nlohmann::json& h) { h["groups"] = 1e300; },
       "field 'groups' must be an integer in 1..4096, got 1e+300"},
      {"fraction replicas", [](nlohmann::json& h) { h["replicas"] = -1.5; },
       "field 'replicas' must be an integer in 1..4096, got -1.5"},
      {"truncated groups", [](nlohmann::json& h) { h["groups"] = (uint64_t{1} << 32) + 2; },
       "field 'groups' must be an integer in 1..4096, got 4294967298"},
      {"truncated batch", [](nlohmann::json& h) { h["batch"] = (uint64_t{1} << 32) + 64; },
       "field 'batch' must be an integer in 1..2147483647, got 4294967360"},
      {"wrapping examples", [](nlohmann::json& h) { h["progress"][0]["examples"] = UINT64_MAX; },
       "progress[0]: field 'examples' must be an integer in 0..9000, got 18446744073709551615"},
      {"negative examples", [](nlohmann::json& h) { h["progress"][1]["examples"] = -7; },
       "progress[1]: field 'examples' must be an integer in 0..9000, got -7"},
      {"float batches", [](nlohmann::json& h) { h["progress"][0]["batches"] = 1e300; },
       "progress[0]: field 'batches' must be an integer in 0..141, got 1e+300"},
      {"too many batches", [](nlohmann::json& h) { h["progress"][0]["batches"] = 142; },
       "progress[0]: field 'batches' must be an integer in 0..141, got 142"},
      {"missing iterations", [](nlohmann::json& h) { h["progress"][1].erase("iterations"); },
       "progress[1]: missing field 'iterations'"},
      {"mistyped syncs", [](nlohmann::json& h) { h["progress"][1]["syncs"] = "3"; },
       "progress[1]: field 'syncs' must be an integer in 0..4611686018427387904, got \"3\""},
      {"inconsistent examples",
       [](nlohmann::json& h) {
         h["progress"][0]["examples"] = h["progress"][0]["examples"].get<uint64_t>() + 1;
       },
       "over this group's 9000 rows are"},
      {"missing progress", [](nlohmann::json& h) { h.erase("progress"); }, "missing field 'progress'"},
      {"short progress", [](nlohmann::json& h) { h["progress"].erase(1); },
       "field 'progress' must be an array of 2 group records, got an array of 1"},
      {"missing sync", [](nlohmann::json& h) { h.erase("sync"); }, "missing field 'sync'"},
      {"no data identity (older checkpoint)", [](nlohmann::json& h) { h.erase("data"); },
       "checkpoint does not record which data it was trained on"},
      {"mistyped fingerprint", [](nlohmann::json& h) { h["data"]["fingerprint"] = 7; },
       "data: field 'fingerprint' must be a string, got 7"},
      {"unknown sync_optimizer_state", [](nlohmann::json& h) { h["sync_optimizer_state"] = "max"; },
       "field 'sync_optimizer_state' must be none, sum or mean, got \"max\""},
      {"mistyped sync_optimizer_state", [](nlohmann::json& h) { h["sync_optimizer_state"] = 1; },
       "field 'sync_optimizer_state' must be a string, got 1"},
      {"mistyped sync_warmup", [](nlohmann::json& h) { h["train"]["sync_warmup"] = "half"; },
       "field 'train.sync_warmup' must be a number in [0, 1), got \"half\""},
      {"sync_warmup out of range", [](nlohmann::json& h) { h["train"]["sync_warmup"] = 1.5; },
       "field 'train.sync_warmup' must be a number in [0, 1), got 1.5"},
  };
  for (const Case& c : cases) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(original.data(), static_cast<std::streamsize>(original.size()));
    rewrite(path, c.edit);
    const std::string m = resume_error(path, config(SyncMethod::ShadowMA));
    EXPECT_NE(m.find(c.expected), std::string::npos) << c.what << ": " << m;
    EXPECT_NE(m.find("--resume '" + path + "'"), std::string::npos) << c.what << ": " << m;
  }
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(original.data(), static_cast<std::streamsize>(original.size()));
  rewrite(path, [](nlohmann::json&) {}, {"mystery"});
  EXPECT_NE(resume_error(path, config(SyncMethod::ShadowMA)).find("unknown section 'mystery'"), std::string::npos);
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

TEST(Resume, TrainedModelLoadChecksFieldsAndSizesBeforeAllocating) {
  const std::string path = stopped_checkpoint("load.ckpt");
  const std::vector<char> original = [&] {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  }();
  auto load_error = [&](const std::function<void(nlohmann::json&)>& edit) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(original.data(), static_cast<std::streamsize>(original.size()));
    rewrite(path, edit);
    return test::cli_error_of([&] { TrainedModel::load(path); });
  };
  EXPECT_EQ(load_error([](nlohmann::json&) {}), "(no error)");
  // Before: an undefined float-to-int conversion, or nlohmann's out_of_range as "internal error".
  std::string m = load_error([](nlohmann::json& h) { h["replicas"] = 1e300; });
  EXPECT_NE(m.find("checkpoint '" + path + "': field 'replicas' must be an integer in 1..4096, got 1e+300"),
            std::string::npos) << m;
  m = load_error([](nlohmann::json& h) { h["replicas"] = 3; });
  EXPECT_NE(m.find("section 'replicas' has"), std::string::npos) << m;
  m = load_error([](nlohmann::json& h) { h["examples"] = -7; });
  EXPECT_NE(m.find("field 'examples' must be an integer"), std::string::npos) << m;
  // 2^31 rows per table: before, about 26 x 8 GiB were allocated before any size was checked.
  m = load_error([](nlohmann::json& h) { h["model"]["hashing"]["rows"] = uint64_t{1} << 31; });
  EXPECT_NE(m.find("section 'embeddings' has"), std::string::npos) << m;
  EXPECT_NE(m.find("the header implies"), std::string::npos) << m;
  m = load_error([](nlohmann::json& h) { h.erase("model"); });
  EXPECT_NE(m.find("missing field 'model'"), std::string::npos) << m;
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

TEST(Resume, SecondRunOnTheSameCheckpointIsRefused) {
  const std::string path = temp_path("locked.ckpt");
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.checkpoint_path = path;
  const std::pair<DataView, DataView> views = split(0.1);
  const DataView& train = views.first;
  const DataView& eval = views.second;
  {
    Trainer first(c, train, eval);
    const std::string m = test::cli_error_of([&] { Trainer second(c, train, eval); });
    EXPECT_NE(m.find("checkpoint '" + path + "' is in use: another training run holds"), std::string::npos) << m;
  }
  EXPECT_EQ(test::cli_error_of([&] { Trainer again(c, train, eval); }), "(no error)") << "released with the first run";
  std::remove((path + ".lock").c_str());
}

}  // namespace
}  // namespace shadowsync

namespace shadowsync {
namespace {

// Criteo's widths (13 numeric, 26 tables) under other names: 25 categorical columns and one
// multi-hot column "tags", a header and string ids: a schema the model in this build can hold.
FeatureSchema other_schema() {
  FeatureSchema s;
  s.header = true;
  s.hex_ids = false;
  s.columns.push_back({"click", ColumnKind::Label});
  for (int j = 0; j < 13; ++j) s.columns.push_back({"n" + std::to_string(j), ColumnKind::Numeric});
  s.columns[3].transform = NumericTransformKind::Identity;
  for (int t = 0; t < 25; ++t) s.columns.push_back({"c" + std::to_string(t), ColumnKind::Categorical});
  SchemaColumn tags{"tags", ColumnKind::MultiHot};
  tags.separator = '|';
  tags.max_length = 8;
  tags.pooling = Pooling::Mean;
  s.columns.push_back(tags);
  s.validate("test");
  return s;
}

// A checkpoint of `schema`'s model written as the trainer writes one (header and sections).
std::string checkpoint_of(const FeatureSchema& schema, const std::string& name, TrainConfig* used = nullptr) {
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.model.schema = schema;
  const Model model(c.model);
  TrainState state(model, 1, TrainState::Parts::Everything, [](int) -> MemoryResource& { return default_memory(); },
                   default_memory());
  state.initialize(model, 5);
  state.progress.assign(1, GroupProgressState{});
  const std::string path = temp_path(name);
  state.save(path, train::make_checkpoint_header(c, 1, state, train::DataIdentity{100, 0, "x"}));
  if (used != nullptr) *used = c;
  return path;
}

TEST(Resume, ACheckpointCarriesItsSchemaAndReadsBack) {
  const FeatureSchema schema = other_schema();
  TrainConfig c;
  const std::string path = checkpoint_of(schema, "schema.ckpt", &c);
  {
    CheckpointReader reader(path);
    EXPECT_EQ(reader.json("header")["model"]["schema"], schema.to_json());
  }
  const TrainedModel trained = TrainedModel::load(path);
  EXPECT_EQ(trained.schema(), schema);
  EXPECT_FALSE(trained.schema().is_criteo());
  EXPECT_EQ(trained.model().config(), c.model);
  // Every table of the schema read back: 26, the last one the multi-hot column's.
  const Model model(c.model);
  TrainState expected(model, 1, TrainState::Parts::Model, [](int) -> MemoryResource& { return default_memory(); },
                      default_memory());
  expected.initialize(model, 5);
  for (int t = 0; t < schema.table_count(); ++t) {
    EXPECT_EQ(0, std::memcmp(expected.embeddings().table_data(t), trained.embeddings().table_data(t),
                             trained.embeddings().table_floats(t) * sizeof(float))) << t;
  }
  EXPECT_EQ(test::cli_error_of([&] { trained.check_data_schema(schema, "same.cache"); }), "(no error)");

  // Data of another schema (eval / predict): refused naming the first column that differs.
  FeatureSchema other = schema;
  other.columns[39].kind = ColumnKind::Categorical;
  EXPECT_EQ(test::cli_error_of([&] { trained.check_data_schema(other, "day.cache"); }),
            "checkpoint '" + path + "' was trained on data of another schema (checkpoint vs data 'day.cache': "
            "column 39: tags (multi_hot) vs tags (categorical))");
  EXPECT_EQ(test::cli_error_of([&] { trained.check_data_schema(FeatureSchema::criteo(), "day_0.tsv"); }),
            "checkpoint '" + path + "' was trained on data of another schema (checkpoint vs data 'day_0.tsv': "
            "column 0: click (label) vs label (label))");

  // --resume with data of another schema: refused before anything else, naming the column.
  TrainConfig resumed = c;
  resumed.model.schema = other;
  CheckpointReader reader(path);
  const std::string m = test::cli_error_of([&] {
    train::check_resume_header(reader.json("header"), resumed, {}, 1, 1, 100, 0,
                               []() -> const std::string& {
                                 static const std::string x = "x";
                                 return x;
                               },
                               "--resume 'schema.ckpt'");
  });
  EXPECT_EQ(m, "--resume 'schema.ckpt': checkpoint was trained on data of another schema (checkpoint vs this run's "
               "--data: column 39: tags (multi_hot) vs tags (categorical))");
  std::filesystem::remove(path);
}

// A checkpoint written before schemas were stored (no "schema" in its model) reads as Criteo's.
TEST(Resume, ACheckpointWithoutASchemaReadsAsCriteo) {
  const std::string path = checkpoint_of(FeatureSchema::criteo(), "no_schema.ckpt");
  rewrite(path, [](nlohmann::json& h) { h["model"].erase("schema"); });
  const TrainedModel trained = TrainedModel::load(path);
  EXPECT_TRUE(trained.schema().is_criteo());
  EXPECT_EQ(test::cli_error_of([&] { trained.check_data_schema(FeatureSchema::criteo(), "day_0.tsv"); }), "(no error)");
  std::filesystem::remove(path);
}

// The trainer refuses a resume whose data has another schema (here columns renamed: same widths).
TEST(Resume, RefusesDataOfAnotherSchemaNamingTheColumn) {
  const std::string path = stopped_checkpoint("schema_resume.ckpt");
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.model.schema.columns[16].name = "site";
  const std::string m = resume_error(path, c);
  EXPECT_NE(m.find("checkpoint was trained on data of another schema (checkpoint vs this run's --data: column 16: C3 "
                   "(categorical) vs site (categorical))"),
            std::string::npos) << m;
  std::remove(path.c_str());
  std::remove((path + ".lock").c_str());
}

// Rows of other widths than the model's schema are refused before training (never misread).
TEST(Resume, RowsOfOtherWidthsThanTheModelAreRefused) {
  TrainConfig c = config(SyncMethod::ShadowMA);
  c.model.schema = other_schema();  // 25 one-hot + 1 multi-hot; the data has 26 one-hot
  const auto parts = split(0.1);  // not a structured binding: clang 14 cannot capture one
  EXPECT_EQ(test::cli_error_of([&] { Trainer t(c, parts.first, parts.second); }),
            "--data: the rows have 13 numeric, 26 categorical and 0 multi-hot features; the model (--model) reads 13, "
            "25 and 1");
}

}  // namespace
}  // namespace shadowsync
