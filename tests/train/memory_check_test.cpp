// The up-front memory check's estimate of one worker's buffers (train/memory_check.hpp): a bf16
// run adds exactly the workspace's BF16 copies, computed from the model's layer shapes and the
// batch; a hopeless size is refused with a message naming the fields that make it large; and
// the cgroup memory limit (v1 and v2, on fake trees) caps the memory the check allows.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "train/memory_check.hpp"

namespace shadowsync::train {
namespace {

// The BF16 copies of a workspace from the layer shapes: each layer's weights (out x in) and
// input (batch x in), one output gradient of the widest layer (batch x max out), 2 bytes each.
uint64_t expected_bf16_bytes(const Model& model, int batch) {
  uint64_t halves = 0, widest_out = 0;
  for (const auto* mlp : {&model.layout().bottom, &model.layout().top}) {
    for (const DenseLayout::Layer& l : *mlp) {
      halves += uint64_t(l.out) * uint64_t(l.in) + uint64_t(batch) * uint64_t(l.in);
      widest_out = std::max(widest_out, uint64_t(l.out));
    }
  }
  return 2 * (halves + uint64_t(batch) * widest_out);
}

TEST(MemoryCheck, Bf16WorkspaceAddsItsBf16Copies) {
  for (const char* preset : {"small", "kaggle"}) {
    const Model model(ModelConfig::preset(preset, HashingConfig::uniform(40)));
    for (const int batch : {1, 128, 1024}) {
      const uint64_t fp32 = workspace_bytes(model, batch, Precision::Fp32);
      const uint64_t bf16 = workspace_bytes(model, batch, Precision::Bf16);
      EXPECT_GT(fp32, 0u);
      EXPECT_EQ(bf16 - fp32, expected_bf16_bytes(model, batch)) << preset << " batch " << batch;
      EXPECT_EQ(bf16 - fp32, ModelWorkspace::bf16_copy_bytes(model, batch, Precision::Bf16));
    }
  }
  // kaggle at batch 128: 474,368 weights, 1,980 input floats per example and 512 output
  // gradient floats per example, 2 bytes each.
  const Model kaggle(ModelConfig::preset("kaggle", HashingConfig::uniform(40)));
  EXPECT_EQ(workspace_bytes(kaggle, 128, Precision::Bf16) - workspace_bytes(kaggle, 128, Precision::Fp32),
            2u * (474'368u + 128u * 1'980u + 128u * 512u));
}

TEST(MemoryCheck, RefusesAHopelessBatchNamingTheFields) {
  const Model model(ModelConfig::preset("small", HashingConfig::uniform(40)));
  try {
    check_memory_fits(model, 1, 1000, 1 << 30, RowFormat::Fp32, Precision::Bf16);
    GTEST_SKIP() << "/proc/meminfo not readable: the check is off";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("not enough memory: this run needs about ", 0), 0u) << what;
    EXPECT_NE(what.find("1000 worker buffers of "), std::string::npos) << what;
    EXPECT_NE(what.find(" each from batch 1073741824)"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace shadowsync::train

namespace shadowsync::train {
namespace {

// A fake /sys/fs/cgroup and /proc/self/cgroup in a temporary folder.
class FakeCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("shadowsync_cgroup_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& relative, const std::string& text) {
    const std::filesystem::path p = root_ / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::optional<uint64_t> limit(const std::string& self_cgroup) {
    write("self_cgroup", self_cgroup);
    return cgroup_memory_limit((root_ / "sys").string(), (root_ / "self_cgroup").string());
  }
  std::filesystem::path root_;
};

TEST_F(FakeCgroups, Version1MemoryControllerLimit) {
  write("sys/memory/jobs/a/memory.limit_in_bytes", "536870912\n");
  EXPECT_EQ(limit("9:name=systemd:/\n4:memory:/jobs/a\n3:cpuset:/\n"), uint64_t{536870912});
  // A parent's smaller limit applies (memory.stat's hierarchical_memory_limit).
  write("sys/memory/jobs/a/memory.stat", "cache 0\nhierarchical_memory_limit 268435456\nrss 0\n");
  EXPECT_EQ(limit("4:memory:/jobs/a\n"), uint64_t{268435456});
  // The controller listed with others.
  EXPECT_EQ(limit("4:cpu,memory:/jobs/a\n"), uint64_t{268435456});
}

TEST_F(FakeCgroups, Version1UnlimitedIsNoLimit) {
  write("sys/memory/memory.limit_in_bytes", "9223372036854771712\n");
  write("sys/memory/memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
  EXPECT_EQ(limit("4:memory:/\n"), std::nullopt);
}

TEST_F(FakeCgroups, Version2MemoryMaxOfTheGroupAndItsAncestors) {
  write("sys/box/job/memory.max", "max\n");
  write("sys/box/memory.max", "1073741824\n");
  EXPECT_EQ(limit("0::/box/job\n"), uint64_t{1073741824});
  write("sys/box/job/memory.max", "104857600\n");
  EXPECT_EQ(limit("0::/box/job\n"), uint64_t{104857600});
  // A hybrid machine mounts v2 under unified/.
  write("sys/unified/other/memory.max", "2147483648\n");
  EXPECT_EQ(limit("0::/other\n"), uint64_t{2147483648});
}

TEST_F(FakeCgroups, NoLimitWhenNothingIsReadable) {
  EXPECT_EQ(limit("0::/\n"), std::nullopt);
  EXPECT_EQ(limit("4:memory:/gone\n"), std::nullopt);
  EXPECT_EQ(limit("garbage\n"), std::nullopt);
  EXPECT_EQ(cgroup_memory_limit((root_ / "none").string(), (root_ / "missing").string()), std::nullopt);
  write("sys/max-only/memory.max", "max\n");
  EXPECT_EQ(limit("0::/max-only\n"), std::nullopt);
}

}  // namespace
}  // namespace shadowsync::train

namespace shadowsync::train {
namespace {

// A schema of `numeric` numeric, `categorical` one-hot and `multi_hot` multi-hot columns.
FeatureSchema schema_of(int numeric, int categorical, int multi_hot) {
  FeatureSchema s;
  s.columns.push_back({"label", ColumnKind::Label});
  for (int j = 0; j < numeric; ++j) s.columns.push_back({"n" + std::to_string(j), ColumnKind::Numeric});
  for (int t = 0; t < categorical; ++t) s.columns.push_back({"c" + std::to_string(t), ColumnKind::Categorical});
  for (int m = 0; m < multi_hot; ++m) {
    SchemaColumn c{"m" + std::to_string(m), ColumnKind::MultiHot};
    c.separator = '|';
    c.max_length = 8;
    s.columns.push_back(c);
  }
  return s;
}

// The tables of any schema, counted by hand: rows x (stride + 1 accumulator float) x 4 bytes.
TEST(MemoryCheck, EmbeddingTablesPerTableOfTheSchema) {
  ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(40));
  config.schema = schema_of(2, 3, 2);
  config.hashing.rows = {10, 20, 30, 1000, 7};  // 3 one-hot tables, then 2 multi-hot ones
  config.embedding_dim = 16;  // stride 16
  EXPECT_EQ(embedding_table_bytes(config), (10u + 20u + 30u + 1000u + 7u) * 17u * 4u);
  config.embedding_dim = 5;  // stride 8
  EXPECT_EQ(embedding_table_bytes(config), 1067u * 9u * 4u);
  config.embedding_dim = 20;  // stride 32
  config.hashing.rows = {3};
  EXPECT_EQ(embedding_table_bytes(config), 3u * 33u * 4u);
  config.hashing.rows = {};
  EXPECT_EQ(embedding_table_bytes(config), 0u);
}

// V = (N ? 1 : 0) + S + M vectors per example: 27 for Criteo's layout.
TEST(MemoryCheck, InteractionVectorsOfTheSchema) {
  EXPECT_EQ(interaction_vectors(FeatureSchema::criteo()), 27);
  EXPECT_EQ(interaction_vectors(schema_of(3, 7, 1)), 9);
  EXPECT_EQ(interaction_vectors(schema_of(0, 7, 1)), 8);
  EXPECT_EQ(interaction_vectors(schema_of(0, 0, 2)), 2);
  EXPECT_EQ(interaction_vectors(schema_of(5, 0, 0)), 1);
}

// Criteo's per-example activations as before: 2 x 27 x d floats of vectors and gradients.
TEST(MemoryCheck, WorkspaceGrowsWithTheInteractionVectors) {
  const Model model(ModelConfig::preset("small", HashingConfig::uniform(40)));
  const uint64_t one = workspace_bytes(model, 1, Precision::Fp32);
  const uint64_t two = workspace_bytes(model, 2, Precision::Fp32);
  // Per example: the layers' outputs, 2 V d, 3 x the widest width, and 2 floats.
  uint64_t activations = 0, widest = uint64_t(model.config().interaction_width());
  for (const auto* mlp : {&model.layout().bottom, &model.layout().top}) {
    for (const DenseLayout::Layer& l : *mlp) {
      activations += uint64_t(l.out);
      widest = std::max({widest, uint64_t(l.in), uint64_t(l.out)});
    }
  }
  EXPECT_EQ(two - one, (activations + 2u * 27u * 16u + 3u * widest + 2u) * 4u);
}

// dcn adds, per example, x_{l+1} and p_l (D each) and h_l (r) per cross layer, and 3 D + r of
// gradients: a model with cross layers needs that much more than the same model with cat.
TEST(MemoryCheck, WorkspaceCountsTheCrossLayers) {
  const HashingConfig h = HashingConfig::uniform(40);
  nlohmann::json j = {{"bottom", {16, 8}}, {"top", {32, 1}}, {"embedding_dim", 8}, {"interaction", "cat"}};
  const Model cat(ModelConfig::from_json(j, "test"));
  j["interaction"] = "dcn";
  j["cross_layers"] = 2;
  j["cross_rank"] = 5;
  const Model dcn(ModelConfig::from_json(j, "test"));
  const uint64_t D = 27u * 8u, r = 5u;
  const uint64_t cat_per_example = workspace_bytes(cat, 2, Precision::Fp32) - workspace_bytes(cat, 1, Precision::Fp32);
  const uint64_t dcn_per_example = workspace_bytes(dcn, 2, Precision::Fp32) - workspace_bytes(dcn, 1, Precision::Fp32);
  EXPECT_EQ(dcn_per_example - cat_per_example, (2u * (2u * D + r) + 3u * D + r) * 4u);
}

}  // namespace
}  // namespace shadowsync::train
