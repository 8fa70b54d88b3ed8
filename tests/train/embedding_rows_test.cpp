// Runs with bf16 embedding rows (TrainConfig::embedding_precision): deterministic runs repeat
// bit for bit; a checkpoint holds bf16 rows (header "embedding_precision"), resumes bit-identical
// and loads for inference with the run's values; resume and init_from with the other row format
// are refused naming both; checkpoints without the field read as fp32; the memory check counts
// half the row bytes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../common/error_text.hpp"
#include "../common/generated_data.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/train/evaluate.hpp"
#include "shadowsync/train/trained_model.hpp"
#include "shadowsync/train/trainer.hpp"
#include "train/checkpoint.hpp"
#include "train/memory_check.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kRows = 30000;
const HashingConfig kHashing = HashingConfig::uniform(1024);

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_rows", name); }

const test::GeneratedData& data() {
  static const test::GeneratedData d = test::generate_dataset("shadowsync_rows", kRows, 5, kHashing, 0.2);
  return d;
}

TrainConfig config(RowFormat rows) {
  TrainConfig c;
  c.model = ModelConfig::preset("small", kHashing);
  c.sync = SyncMethod::ForegroundMA;
  c.topology = "package:2 numa:1 core:1 pu:1";
  c.placement.threads_per_group = 1;
  c.batch = 64;
  c.sync_every = 4;
  c.deterministic = true;
  c.embedding_precision = rows;
  return c;
}

// Every table's bytes (either format) equal, and (with `accumulators`) their accumulators'.
bool same_tables(const EmbeddingStore& a, const EmbeddingStore& b, bool accumulators = true) {
  if (a.format() != b.format() || a.tables() != b.tables()) return false;
  for (int t = 0; t < a.tables(); ++t) {
    if (std::memcmp(a.table_words_data(t), b.table_words_data(t), a.table_words(t) * 4) != 0) return false;
    if (accumulators && std::memcmp(a.accumulator(t), b.accumulator(t), a.rows(t) * 4) != 0) return false;
  }
  return true;
}

TEST(EmbeddingRowsRun, DeterministicBf16RunsRepeatAndDifferFromFp32) {
  Trainer a(config(RowFormat::Bf16), data().train, data().eval), b(config(RowFormat::Bf16), data().train, data().eval);
  const TrainResult ra = a.run(), rb = b.run();
  EXPECT_EQ(a.embeddings().format(), RowFormat::Bf16);
  EXPECT_EQ(a.embeddings().rounding(), RowRounding::Stochastic);  // the default
  EXPECT_TRUE(same_tables(a.embeddings(), b.embeddings()));
  EXPECT_EQ(ra.final_report.eval->ne, rb.final_report.eval->ne);
  Trainer c(config(RowFormat::Fp32), data().train, data().eval);
  const TrainResult rc = c.run();
  EXPECT_NE(ra.final_report.eval->ne, rc.final_report.eval->ne);
  EXPECT_NEAR(ra.final_report.eval->ne, rc.final_report.eval->ne, 0.01);
  EXPECT_LT(ra.final_report.eval->ne, 0.95);  // it trained
}

TEST(EmbeddingRowsRun, Bf16CheckpointResumesBitIdenticalAndLoadsForInference) {
  const std::string path = temp_path("bf16.ckpt");
  TrainConfig c = config(RowFormat::Bf16);
  Trainer whole(c, data().train, data().eval);
  whole.run();

  TrainConfig first = c;
  first.max_examples = 64 * 9 + 5;
  first.checkpoint_path = path;
  const TrainResult stopped = Trainer(first, data().train, data().eval).run();
  ASSERT_TRUE(stopped.stopped_early);
  {
    CheckpointReader reader(path);
    EXPECT_EQ(reader.json("header").at("embedding_precision"), "bf16");
    uint64_t words = 0;
    for (int t = 0; t < kHashing.tables(); ++t) words += (1024 * 16 * 2 + 3) / 4;
    EXPECT_EQ(reader.section_bytes("embeddings"), words * 4);  // half of fp32's
  }
  const TrainedModel loaded = TrainedModel::load(path);
  EXPECT_EQ(loaded.embeddings().format(), RowFormat::Bf16);
  const BinaryMetrics m = evaluate_model(loaded.model(), loaded.dense(), loaded.embeddings(), data().eval);
  EXPECT_NEAR(m.ne(), stopped.final_report.eval->ne, 1e-9);

  TrainConfig second = c;
  second.resume_path = path;
  Trainer resumed(second, data().train, data().eval);
  resumed.run();
  EXPECT_TRUE(same_tables(whole.embeddings(), resumed.embeddings()));

  // The other row format is refused, naming both, for resume and for init_from.
  TrainConfig fp32 = config(RowFormat::Fp32);
  fp32.resume_path = path;
  EXPECT_EQ(test::cli_error_of([&] { Trainer t(fp32, data().train, data().eval); }),
            "--resume '" + path + "': checkpoint holds bf16 embedding rows, this run asks for fp32 (use the same "
            "--embedding-precision as the checkpoint: bf16)");
  TrainConfig init = config(RowFormat::Fp32);
  init.init_from = path;
  EXPECT_EQ(test::cli_error_of([&] { Trainer t(init, data().train, data().eval); }),
            "--init-from '" + path + "': checkpoint holds bf16 embedding rows, this run asks for fp32 (use the same "
            "--embedding-precision as the checkpoint: bf16)");
  TrainConfig init_bf16 = config(RowFormat::Bf16);
  init_bf16.init_from = path;
  Trainer from(init_bf16, data().train, data().eval);
  EXPECT_TRUE(same_tables(from.embeddings(), loaded.embeddings(), /*accumulators=*/false));
  std::remove(path.c_str());
}

// A checkpoint without "embedding_precision" (written before bf16 rows) holds fp32 rows.
TEST(EmbeddingRowsRun, CheckpointsWithoutTheFieldAreFp32) {
  const std::string path = temp_path("old.ckpt");
  TrainConfig c = config(RowFormat::Fp32);
  c.checkpoint_path = path;
  c.max_examples = 64 * 4;
  Trainer(c, data().train, data().eval).run();
  std::vector<std::pair<std::string, std::vector<float>>> sections;
  nlohmann::json header;
  {
    CheckpointReader reader(path);
    header = reader.json("header");
    EXPECT_EQ(header.at("embedding_precision"), "fp32");
    for (std::string_view name : kTrainerCheckpointSections) {
      if (name == "header" || !reader.has(name)) continue;
      std::vector<float> floats(reader.section_bytes(name) / sizeof(float));
      reader.read_floats(name, floats.data(), floats.size());
      sections.emplace_back(std::string(name), std::move(floats));
    }
  }
  const auto write = [&](const nlohmann::json& h) {
    CheckpointWriter writer(path);
    writer.add_json("header", h);
    for (const auto& [name, floats] : sections) writer.add_floats(name, floats.data(), floats.size());
    writer.commit();
  };
  header.erase("embedding_precision");
  write(header);
  EXPECT_EQ(TrainedModel::load(path).embeddings().format(), RowFormat::Fp32);
  TrainConfig bf16 = config(RowFormat::Bf16);
  bf16.resume_path = path;
  EXPECT_NE(test::cli_error_of([&] { Trainer t(bf16, data().train, data().eval); }).find("checkpoint holds fp32 embedding rows"),
            std::string::npos);
  header["embedding_precision"] = "fp8";
  write(header);
  EXPECT_EQ(test::cli_error_of([&] { TrainedModel::load(path); }),
            "checkpoint '" + path + "': field 'embedding_precision' must be fp32 or bf16, got \"fp8\"");
  std::remove(path.c_str());
}

TEST(EmbeddingRowsRun, MemoryCheckCountsHalfRowBytes) {
  ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(1000));  // dim 16, 26 tables
  EXPECT_EQ(train::embedding_table_bytes(config, RowFormat::Fp32), 26u * 1000u * (64u + 4u));
  EXPECT_EQ(train::embedding_table_bytes(config, RowFormat::Bf16), 26u * 1000u * (32u + 4u));
  config = ModelConfig::preset("tiny", HashingConfig::uniform(3));  // dim 4: 3 rows of 8 bytes
  EXPECT_EQ(train::embedding_table_bytes(config, RowFormat::Bf16), 26u * (24u + 12u));
  EXPECT_EQ(train::embedding_table_bytes(config), 26u * (48u + 12u));
}

}  // namespace
}  // namespace shadowsync
