// ModelConfig presets (over Criteo's and other schemas), JSON round trip and validation
// messages (dcn's cross fields too); DenseLayout alignment; EmbeddingStore layout (any number of tables); OptimizerConfig
// parsing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/dense_layout.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model_config.hpp"
#include "shadowsync/model/named_parameters.hpp"
#include "shadowsync/model/optimizer.hpp"

namespace shadowsync {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("shadowsync_model_test_" + name);
  std::ofstream(path) << text;
  return path.string();
}

TEST(ModelConfig, PresetsHaveTheStatedShapes) {
  const HashingConfig h = HashingConfig::uniform(50);
  const ModelConfig kaggle = ModelConfig::preset("kaggle", h);
  EXPECT_EQ(kaggle.bottom, (std::vector<int>{512, 256, 64, 16}));
  EXPECT_EQ(kaggle.top, (std::vector<int>{512, 256, 1}));
  EXPECT_EQ(kaggle.embedding_dim, 16);
  EXPECT_EQ(kaggle.interaction, Interaction::Dot);
  EXPECT_EQ(kaggle.hashing, h);
  EXPECT_EQ(kaggle.interaction_width(), 16 + 351);
  const ModelConfig small = ModelConfig::preset("small", h);
  EXPECT_EQ(small.bottom, (std::vector<int>{64, 16}));
  EXPECT_EQ(small.top, (std::vector<int>{256, 64, 1}));
  const ModelConfig tiny = ModelConfig::preset("tiny", h);
  EXPECT_EQ(tiny.embedding_dim, 4);
  const std::string message = error_of([&] { ModelConfig::preset("huge", h); });
  EXPECT_NE(message.find("huge"), std::string::npos);
  EXPECT_NE(message.find("tiny, small, kaggle, dcn, dcn-mlperf"), std::string::npos);
}

TEST(ModelConfig, DcnPresetsHaveTheStatedShapes) {
  const HashingConfig h = HashingConfig::uniform(50);
  const ModelConfig dcn = ModelConfig::preset("dcn", h);
  const ModelConfig kaggle = ModelConfig::preset("kaggle", h);
  EXPECT_EQ(dcn.bottom, kaggle.bottom);
  EXPECT_EQ(dcn.top, kaggle.top);
  EXPECT_EQ(dcn.embedding_dim, 16);
  EXPECT_EQ(dcn.interaction, Interaction::Dcn);
  EXPECT_EQ(dcn.cross_layers, 3);
  EXPECT_EQ(dcn.cross_rank, 0);
  EXPECT_EQ(dcn.interaction_width(), 27 * 16);
  const DenseLayout dl = DenseLayout::for_config(dcn);
  ASSERT_EQ(dl.cross.size(), 3u);
  EXPECT_EQ(dl.cross[0].dim, 432);
  EXPECT_EQ(dl.top[0].in, 432);
  const ModelConfig mlperf = ModelConfig::preset("dcn-mlperf", h);
  EXPECT_EQ(mlperf.bottom, (std::vector<int>{512, 256, 128}));
  EXPECT_EQ(mlperf.embedding_dim, 128);
  EXPECT_EQ(mlperf.top, (std::vector<int>{1024, 1024, 512, 256, 1}));
  EXPECT_EQ(mlperf.cross_layers, 3);
  EXPECT_EQ(mlperf.cross_rank, 512);
  EXPECT_EQ(mlperf.interaction_width(), 27 * 128);
  // Over a schema of 5 vectors (D = 5 x 128 = 640) rank 512 stays; over 4 (D = 512) it is full rank.
  const FeatureSchema mixed = test::mixed_schema();
  EXPECT_EQ(ModelConfig::preset("dcn-mlperf", HashingConfig::uniform(50, 0, 4), mixed).cross_rank, 512);
  const ModelConfig no_numeric = ModelConfig::preset("dcn-mlperf", HashingConfig::uniform(50, 0, 4), test::mixed_schema(false));
  EXPECT_TRUE(no_numeric.bottom.empty());
  EXPECT_EQ(no_numeric.interaction_width(), 512);
  EXPECT_EQ(no_numeric.cross_rank, 0);
  const ModelConfig dcn_mixed = ModelConfig::preset("dcn", HashingConfig::uniform(50, 0, 4), mixed);
  EXPECT_EQ(dcn_mixed.interaction_width(), 5 * 16);
}

TEST(ModelConfig, DcnJsonRoundTripAndRefusals) {
  const HashingConfig h = HashingConfig::uniform(50);
  ModelConfig c = ModelConfig::preset("dcn", h);
  EXPECT_EQ(ModelConfig::from_json(c.to_json(), "x"), c);
  c.cross_rank = 32;
  c.cross_layers = 2;
  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j.at("cross_layers"), 2);
  EXPECT_EQ(j.at("cross_rank"), 32);
  EXPECT_EQ(ModelConfig::from_json(j, "x"), c);
  // dot and cat write no cross fields (their JSON is as before dcn).
  EXPECT_FALSE(ModelConfig::preset("kaggle", h).to_json().contains("cross_layers"));
  EXPECT_FALSE(ModelConfig::preset("kaggle", h).to_json().contains("cross_rank"));
  EXPECT_EQ(ModelConfig::preset("dcn", h).differences(c), "cross_layers 3 vs 2; cross_rank 0 vs 32");
  EXPECT_EQ(ModelConfig::preset("kaggle", h).differences(ModelConfig::preset("dcn", h)),
            "interaction dot vs dcn; cross_layers 0 vs 3");

  auto from_text = [&](const std::string& text) {
    return error_of([&] { ModelConfig::from_json_file(write_temp("bad_dcn.json", text), h); });
  };
  const std::string base = R"({"bottom": [16], "top": [1], "embedding_dim": 16, )";
  std::string m = from_text(base + R"("interaction": "dot", "cross_rank": 4})");
  EXPECT_NE(m.find("bad_dcn.json: cross_rank is only for interaction \"dcn\" (the interaction is \"dot\")"),
            std::string::npos) << m;
  m = from_text(base + R"("cross_layers": 2})");
  EXPECT_NE(m.find("cross_layers is only for interaction \"dcn\""), std::string::npos) << m;
  m = from_text(base + R"("interaction": "dcn"})");
  EXPECT_NE(m.find("bad_dcn.json: missing field \"cross_layers\""), std::string::npos) << m;
  m = from_text(base + R"("interaction": "dcn", "cross_layers": 0})");
  EXPECT_NE(m.find("bad_dcn.json: cross_layers must be an integer in 1..64, got 0"), std::string::npos) << m;
  m = from_text(base + R"("interaction": "dcn", "cross_layers": "3"})");
  EXPECT_NE(m.find("cross_layers must be an integer in 1..64, got \"3\""), std::string::npos) << m;
  m = from_text(base + R"("interaction": "dcn", "cross_layers": 2, "cross_rank": -1})");
  EXPECT_NE(m.find("cross_rank must be an integer in 0..65536 (0: full rank), got -1"), std::string::npos) << m;
  // D = 27 x 16 = 432.
  m = from_text(base + R"("interaction": "dcn", "cross_layers": 2, "cross_rank": 433})");
  EXPECT_NE(m.find("bad_dcn.json: cross_rank must be 0 (full rank) or in 1..432 (the cross width D = 27 vectors x "
                   "embedding_dim 16), got 433"),
            std::string::npos) << m;
  const std::string ok = from_text(base + R"("interaction": "dcn", "cross_layers": 2, "cross_rank": 432})");
  EXPECT_EQ(ok, "(no error)");
  m = from_text(base + R"("interaction": "dcn", "cross_layers": 2, "cross_rank": 8, "cross_width": 3})");
  EXPECT_NE(m.find("unknown field \"cross_width\""), std::string::npos) << m;
  // Set by code: validate() refuses them too.
  ModelConfig dot = ModelConfig::preset("kaggle", h);
  dot.cross_layers = 2;
  EXPECT_EQ(error_of([&] { dot.validate("model"); }),
            "model: cross_layers is only for interaction dcn (the interaction is dot)");
  ModelConfig none = ModelConfig::preset("dcn", h);
  none.cross_layers = 0;
  EXPECT_EQ(error_of([&] { none.validate("model"); }), "model: cross_layers must be in 1..64 for interaction dcn, got 0");
  ModelConfig wide = ModelConfig::preset("dcn", h);
  wide.embedding_dim = 4096;
  wide.bottom.back() = 4096;
  EXPECT_NE(error_of([&] { wide.validate("model"); }).find("model: interaction dcn over 27 vectors of 4096 values is 110592 wide"),
            std::string::npos);
}

TEST(ModelConfig, DcnFlopsCountTheCrossGemms) {
  const FeatureSchema schema = test::mixed_schema(false);  // 4 tables, no numeric column
  ModelConfig c = ModelConfig::preset("tiny", HashingConfig::uniform(50, 0, 4), schema);
  c.interaction = Interaction::Dcn;
  c.cross_layers = 2;
  c.validate("test");
  // D = 16; top 16-8-1 (x3 each); 2 cross layers of 16 x 16 (forward, data, weights).
  EXPECT_DOUBLE_EQ(c.flops_per_example_train(), 2.0 * (16 * 8 * 3 + 8 * 1 * 3 + 2 * 16 * 16 * 3));
  c.cross_rank = 3;
  EXPECT_DOUBLE_EQ(c.flops_per_example_train(), 2.0 * (16 * 8 * 3 + 8 * 1 * 3 + 2 * 2 * 16 * 3 * 3));
}

TEST(ModelConfig, PresetsOverASchema) {
  // numeric 3; tables site, device (categorical), tags, history (multi-hot): V = 1 + 4 = 5.
  const FeatureSchema mixed = test::mixed_schema();
  const HashingConfig h4 = HashingConfig::uniform(50, 0, 4);
  const ModelConfig kaggle = ModelConfig::preset("kaggle", h4, mixed);
  EXPECT_EQ(kaggle.schema, mixed);
  EXPECT_EQ(kaggle.bottom, (std::vector<int>{512, 256, 64, 16}));
  EXPECT_EQ(kaggle.interaction_vectors(), 5);
  EXPECT_EQ(kaggle.interaction_width(), 16 + 10);
  const DenseLayout layout = DenseLayout::for_config(kaggle);
  EXPECT_EQ(layout.bottom[0].in, 3);
  EXPECT_EQ(layout.top[0].in, 26);
  // No numeric column: no bottom MLP, the dense vector leaves the interaction (V = 4).
  const FeatureSchema no_numeric = test::mixed_schema(false);
  const ModelConfig tiny = ModelConfig::preset("tiny", h4, no_numeric);
  EXPECT_TRUE(tiny.bottom.empty());
  EXPECT_EQ(tiny.interaction_vectors(), 4);
  EXPECT_EQ(tiny.interaction_width(), 6);
  EXPECT_TRUE(DenseLayout::for_config(tiny).bottom.empty());
  ModelConfig cat = tiny;
  cat.interaction = Interaction::Cat;
  EXPECT_EQ(cat.interaction_width(), 4 * 4);
  // top 6-8-1 (x3 each) and the 6 dots of width 4 (x3); no bottom GEMM.
  EXPECT_DOUBLE_EQ(tiny.flops_per_example_train(), 2.0 * (6 * 8 * 3 + 8 * 1 * 3 + 6 * 4 * 3));
  // No one-hot column: the multi-hot tables only (V = 1 + 2).
  const ModelConfig small = ModelConfig::preset("small", HashingConfig::uniform(50, 0, 2), test::mixed_schema(true, false));
  EXPECT_EQ(small.interaction_width(), 16 + 3);
  // Hashing of another table count: both counts named.
  EXPECT_EQ(error_of([&] { ModelConfig::preset("small", HashingConfig::uniform(50), mixed); }),
            "preset small: hashing.rows has 26 tables but the schema has 4 (2 categorical + 2 multi_hot columns)");
  EXPECT_EQ(error_of([&] { ModelConfig::preset("small", h4); }),
            "preset small: hashing.rows has 4 tables but the schema has 26 (26 categorical + 0 multi_hot columns)");
}

TEST(ModelConfig, BottomIsEmptyExactlyWithoutNumericColumns) {
  ModelConfig c = ModelConfig::preset("tiny", HashingConfig::uniform(50, 0, 4), test::mixed_schema(false));
  c.validate("m");
  c.bottom = {8, 4};
  EXPECT_EQ(error_of([&] { c.validate("m"); }),
            "m: bottom must be [] for a schema without numeric columns (no bottom MLP), got [8,4]");
  ModelConfig n = ModelConfig::preset("tiny", HashingConfig::uniform(50, 0, 4), test::mixed_schema());
  n.bottom.clear();
  EXPECT_EQ(error_of([&] { n.validate("m"); }), "m: bottom must list at least one layer width (the schema has 3 numeric columns)");
  // One table and no numeric column: dot has no pair.
  FeatureSchema one;
  one.columns = {SchemaColumn{.name = "y", .kind = ColumnKind::Label}, SchemaColumn{.name = "a", .kind = ColumnKind::Categorical}};
  EXPECT_EQ(error_of([&] { ModelConfig::preset("tiny", HashingConfig::uniform(50, 0, 1), one); }),
            "preset tiny: interaction dot over 1 vector has no pairs (a schema without numeric columns needs two "
            "tables for dot; use cat)");
  // A JSON model of a schema without numeric columns, bottom [].
  ModelConfig j = c;
  j.bottom.clear();
  j.interaction = Interaction::Cat;
  EXPECT_EQ(ModelConfig::from_json(j.to_json(), "x"), j);
}

TEST(ModelConfig, FilesTakeTheGivenSchemaWhenTheyHaveNone) {
  const FeatureSchema mixed = test::mixed_schema();
  const HashingConfig h4 = HashingConfig::uniform(50, 7, 4);
  const std::string path = write_temp("arch_schema.json",
      R"({"bottom": [32, 8], "top": [16, 1], "embedding_dim": 8})");
  const ModelConfig c = ModelConfig::resolve(path, h4, mixed);
  EXPECT_EQ(c.schema, mixed);
  EXPECT_EQ(c.hashing, h4);
  EXPECT_EQ(c.interaction_width(), 8 + 10);
  EXPECT_EQ(ModelConfig::resolve("small", h4, mixed), ModelConfig::preset("small", h4, mixed));
  // A file with its own schema keeps it; "rows": one number fills every table of its schema.
  nlohmann::json j = {{"bottom", {8}}, {"top", {1}}, {"embedding_dim", 8}, {"schema", mixed.to_json()},
                      {"hashing", {{"rows", 10}}}};
  const std::string own = write_temp("arch_schema2.json", j.dump());
  const ModelConfig c2 = ModelConfig::from_json_file(own, HashingConfig::uniform(50));
  EXPECT_EQ(c2.schema, mixed);
  EXPECT_EQ(c2.hashing, HashingConfig::uniform(10, 0, 4));
  // Without "hashing": uniform tables of the file's schema.
  j.erase("hashing");
  EXPECT_EQ(ModelConfig::from_json(j, "x").hashing, HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, 0, 4));
  // A file's schema and the given hashing of another table count.
  EXPECT_NE(error_of([&] { ModelConfig::from_json_file(write_temp("arch_schema3.json", j.dump()), HashingConfig::uniform(50)); })
                .find("hashing.rows has 26 tables but the schema has 4"),
            std::string::npos);
}

TEST(ModelConfig, FlopsCountEveryGemm) {
  ModelConfig c = ModelConfig::preset("tiny", HashingConfig::uniform(50));
  // bottom 13-8-4: 13*8 (fwd + wgrad), 8*4 (fwd, data, wgrad); top 355-8-1 (x3 each); dots 351*4 (x3).
  const double expected = 2.0 * (13 * 8 * 2 + 8 * 4 * 3 + 355 * 8 * 3 + 8 * 1 * 3 + 351 * 4 * 3);
  EXPECT_DOUBLE_EQ(c.flops_per_example_train(), expected);
  c.interaction = Interaction::Cat;
  EXPECT_EQ(c.interaction_width(), 27 * 4);
  EXPECT_DOUBLE_EQ(c.flops_per_example_train(), 2.0 * (13 * 8 * 2 + 8 * 4 * 3 + 108 * 8 * 3 + 8 * 3));
}

TEST(ModelConfig, JsonRoundTripAndFiles) {
  HashingConfig h = HashingConfig::uniform(50, 9);
  h.rows[3] = 77;
  ModelConfig c = ModelConfig::preset("small", h);
  c.interaction = Interaction::Cat;
  EXPECT_EQ(ModelConfig::from_json(c.to_json(), "x"), c);
  // A model file without hashing takes the given one; with hashing, its own.
  const std::string path = write_temp("arch.json",
      R"({"bottom": [32, 8], "top": [16, 1], "embedding_dim": 8, "interaction": "dot"})");
  const ModelConfig from_file = ModelConfig::from_json_file(path, h);
  EXPECT_EQ(from_file.bottom, (std::vector<int>{32, 8}));
  EXPECT_EQ(from_file.hashing, h);
  EXPECT_EQ(ModelConfig::resolve(path, h), from_file);
  EXPECT_EQ(ModelConfig::resolve("kaggle", h), ModelConfig::preset("kaggle", h));
  const std::string with_hashing = write_temp("arch2.json",
      R"({"bottom": [4], "top": [1], "embedding_dim": 4, "hashing": {"rows": 10, "salt": 3}})");
  const ModelConfig c2 = ModelConfig::from_json_file(with_hashing, h);
  EXPECT_EQ(c2.hashing, HashingConfig::uniform(10, 3));
  EXPECT_EQ(c2.interaction, Interaction::Dot);
}

TEST(ModelConfig, ValidationErrorsNameFileAndField) {
  const HashingConfig h = HashingConfig::uniform(50);
  auto from_text = [&](const std::string& text) {
    return error_of([&] { ModelConfig::from_json_file(write_temp("bad.json", text), h); });
  };
  std::string m = from_text(R"({"bottom": [512, 32], "top": [1], "embedding_dim": 16})");
  EXPECT_NE(m.find("bad.json: bottom[-1] must equal embedding_dim (16), got 32"), std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [8], "embedding_dim": 16})");
  EXPECT_NE(m.find("top[-1] must be 1"), std::string::npos) << m;
  m = from_text(R"({"bottom": [16, 0], "top": [1], "embedding_dim": 16})");
  EXPECT_NE(m.find("bottom[1]"), std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [1], "embedding_dim": 16, "interaction": "sum"})");
  EXPECT_NE(m.find("interaction 'sum'"), std::string::npos) << m;
  EXPECT_NE(m.find("dot, cat"), std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [1], "embedding_dim": 16, "layers": 3})");
  EXPECT_NE(m.find("unknown field \"layers\""), std::string::npos) << m;
  m = from_text(R"({"bottom": "16", "top": [1], "embedding_dim": 16})");
  EXPECT_NE(m.find("bottom must be an array"), std::string::npos) << m;
  m = from_text(R"({"top": [1], "embedding_dim": 16})");
  EXPECT_NE(m.find("missing field \"bottom\""), std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [1], "embedding_dim": 16, "hashing": {"rows": 1}})");
  EXPECT_NE(m.find("hashing.rows"), std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [1], "embedding_dim": 16, "hashing": {"rows": [5, 6]}})");
  EXPECT_NE(m.find("bad.json: hashing.rows has 2 tables but the schema has 26 (26 categorical + 0 multi_hot columns)"),
            std::string::npos) << m;
  m = from_text(R"({"bottom": [16], "top": [1.5], "embedding_dim": 16})");
  EXPECT_NE(m.find("top[0] must be an integer"), std::string::npos) << m;
  m = from_text("{ not json");
  EXPECT_NE(m.find("bad.json: invalid JSON"), std::string::npos) << m;
  m = from_text("[1, 2]");
  EXPECT_NE(m.find("JSON object"), std::string::npos) << m;
  m = error_of([&] { ModelConfig::from_json_file("/nonexistent/m.json", h); });
  EXPECT_NE(m.find("/nonexistent/m.json: cannot open"), std::string::npos) << m;
  m = error_of([&] { ModelConfig::resolve("/nonexistent/m.json", h); });
  EXPECT_NE(m.find("cannot open"), std::string::npos) << m;
}

TEST(ModelConfig, FifoModelFileIsRefusedWithoutBlocking) {
  const std::string fifo = (std::filesystem::temp_directory_path() / "shadowsync_model_fifo.json").string();
  std::filesystem::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string m = error_of([&] { ModelConfig::from_json_file(fifo, HashingConfig::uniform(1000)); });
  EXPECT_NE(m.find(fifo + ": is a FIFO"), std::string::npos) << m;
  std::filesystem::remove(fifo);
}

TEST(ModelConfig, UntrustedFilesAreBoundedAndNeverEchoed) {
  const HashingConfig h = HashingConfig::uniform(50);
  // 200k levels: before, parsing and the message's dump() recursed until the stack overflowed.
  const std::string deep_path = write_temp("deep.json", std::string(200000, '[') + std::string(200000, ']'));
  std::string m = error_of([&] { ModelConfig::from_json_file(deep_path, h); });
  EXPECT_NE(m.find(deep_path + ": JSON nested deeper than 64 levels"), std::string::npos) << m.substr(0, 300);
  const std::string deep_object = write_temp("deep_object.json", "{\"bottom\": " + std::string(100000, '[') +
                                                                    std::string(100000, ']') + "}");
  m = error_of([&] { ModelConfig::from_json_file(deep_object, h); });
  EXPECT_NE(m.find("nested deeper than 64"), std::string::npos) << m.substr(0, 300);

  // Duplicate keys: before, the last one silently won.
  const std::string dup = write_temp(
      "dup.json", R"({"bottom": [16], "top": [1], "embedding_dim": 16, "embedding_dim": 8})");
  m = error_of([&] { ModelConfig::from_json_file(dup, h); });
  EXPECT_NE(m.find(dup + ": duplicate key \"embedding_dim\""), std::string::npos) << m;
  const std::string dup_nested = write_temp(
      "dup_nested.json", R"({"bottom": [16], "top": [1], "embedding_dim": 16, "hashing": {"salt": 1, "salt": 2}})");
  m = error_of([&] { ModelConfig::from_json_file(dup_nested, h); });
  EXPECT_NE(m.find("duplicate key \"salt\""), std::string::npos) << m;
  // The same key in two different objects is fine.
  const std::string twice = write_temp(
      "twice.json", R"({"bottom": [16], "top": [1], "embedding_dim": 16, "hashing": {"rows": 7}, "interaction": "dot"})");
  EXPECT_EQ(ModelConfig::from_json_file(twice, h).hashing.rows[0], 7u);

  // A wrong value is described briefly, not dumped.
  const std::string big = write_temp("big.json", "{\"bottom\": [16], \"top\": [1], \"embedding_dim\": \"" +
                                                     std::string(100000, 'x') + "\"}");
  m = error_of([&] { ModelConfig::from_json_file(big, h); });
  EXPECT_NE(m.find("embedding_dim must be an integer"), std::string::npos) << m.substr(0, 300);
  EXPECT_LT(m.size(), 400u);
  const std::string long_interaction = write_temp(
      "long_interaction.json",
      "{\"bottom\": [16], \"top\": [1], \"embedding_dim\": 16, \"interaction\": \"" + std::string(100000, 'z') + "\"}");
  m = error_of([&] { ModelConfig::from_json_file(long_interaction, h); });
  EXPECT_NE(m.find("unknown interaction 'zzz"), std::string::npos) << m.substr(0, 300);
  EXPECT_LT(m.size(), 400u);
  std::filesystem::remove(long_interaction);
  m = error_of([&] { ModelConfig::from_json(nlohmann::json{{"bottom", {nlohmann::json::object({{"a", std::string(5000, 'y')}})}}}, "x"); });
  EXPECT_NE(m.find("bottom[0] must be an integer, got an object"), std::string::npos) << m.substr(0, 300);
  for (const std::string& path : {deep_path, deep_object, dup, dup_nested, twice, big}) std::filesystem::remove(path);
}

TEST(ModelConfig, DifferencesNameEveryDifferingFieldOnOneLine) {
  const ModelConfig small = ModelConfig::preset("small", HashingConfig::uniform(50));
  const ModelConfig tiny = ModelConfig::preset("tiny", HashingConfig::uniform(60));
  EXPECT_EQ(small.differences(small), "");
  EXPECT_EQ(small.differences(tiny),
            "bottom [64,16] vs [8,4]; top [256,64,1] vs [8,1]; embedding_dim 16 vs 4; hashing.rows[0] 50 vs 60");
}

TEST(DenseLayout, TensorsAreAlignedDisjointAndInOrder) {
  for (const char* name : {"tiny", "small", "kaggle"}) {
    const ModelConfig c = ModelConfig::preset(name, HashingConfig::uniform(50));
    const DenseLayout layout = DenseLayout::for_config(c);
    ASSERT_EQ(layout.bottom.size(), c.bottom.size());
    ASSERT_EQ(layout.top.size(), c.top.size());
    size_t end = 0;
    int in = kNumNumeric;
    std::vector<DenseLayout::Layer> all = layout.bottom;
    all.insert(all.end(), layout.top.begin(), layout.top.end());
    for (size_t l = 0; l < all.size(); ++l) {
      const auto& L = all[l];
      if (l == layout.bottom.size()) in = c.interaction_width();
      EXPECT_EQ(L.in, in);
      in = L.out;
      EXPECT_EQ(L.weight_offset % 16, 0u);
      EXPECT_EQ(L.bias_offset % 16, 0u);
      EXPECT_GE(L.weight_offset, end);
      EXPECT_GE(L.bias_offset, L.weight_offset + size_t(L.in) * L.out);
      end = L.bias_offset + size_t(L.out);
    }
    EXPECT_GE(layout.total_floats, end);
    EXPECT_EQ(layout.total_floats % 16, 0u);
  }
  // dcn: the cross layers between bottom and top, 64-byte aligned, in order; the bottom layers
  // where kaggle has them.
  for (const int rank : {0, 20}) {
    ModelConfig c = ModelConfig::preset("dcn", HashingConfig::uniform(50));
    c.cross_rank = rank;
    const DenseLayout layout = DenseLayout::for_config(c);
    const DenseLayout kaggle = DenseLayout::for_config(ModelConfig::preset("kaggle", HashingConfig::uniform(50)));
    ASSERT_EQ(layout.cross.size(), 3u);
    for (size_t l = 0; l < 4; ++l) EXPECT_EQ(layout.bottom[l].weight_offset, kaggle.bottom[l].weight_offset);
    size_t end = layout.bottom.back().bias_offset + 16;
    for (const auto& C : layout.cross) {
      EXPECT_EQ(C.dim, 432);
      EXPECT_EQ(C.rank, rank);
      EXPECT_EQ(C.begin() % 16, 0u);
      EXPECT_GE(C.begin(), end);
      if (rank == 0) {
        EXPECT_GE(C.bias_offset, C.weight_offset + 432u * 432u);
      } else {
        EXPECT_EQ(C.v_offset % 16, 0u);
        EXPECT_EQ(C.u_offset % 16, 0u);
        EXPECT_GE(C.u_offset, C.v_offset + 20u * 432u);
        EXPECT_GE(C.bias_offset, C.u_offset + 432u * 20u);
      }
      EXPECT_EQ(C.bias_offset % 16, 0u);
      EXPECT_EQ(C.end(), C.bias_offset + 432u);
      end = C.end();
    }
    EXPECT_GE(layout.top[0].weight_offset, end);
    EXPECT_EQ(layout.top[0].in, 432);
    const size_t cross = rank == 0 ? 3 * (432 * 432 + 432) : 3 * (2 * 20 * 432 + 432);
    EXPECT_EQ(layout.top[0].weight_offset - kaggle.top[0].weight_offset, cross);  // all multiples of 16
  }
  // kaggle: 13*512+512 + 512*256+256 + 256*64+64 + 64*16+16 + 367*512+512 + 512*256+256 + 256+1
  // parameters, plus at most 15 floats of padding after each tensor.
  const DenseLayout k = DenseLayout::for_config(ModelConfig::preset("kaggle", HashingConfig::uniform(50)));
  const size_t params = 13 * 512 + 512 + 512 * 256 + 256 + 256 * 64 + 64 + 64 * 16 + 16 + 367 * 512 + 512 +
                        512 * 256 + 256 + 256 + 1;
  EXPECT_GE(k.total_floats, params);
  EXPECT_LE(k.total_floats, params + 14 * 15);
}

TEST(EmbeddingStore, RowsArePaddedAndAligned) {
  HashingConfig h = HashingConfig::uniform(10);
  h.rows[5] = 3;
  for (auto [dim, stride] : {std::pair{1, 1}, {4, 4}, {5, 8}, {16, 16}, {17, 32}, {40, 48}}) {
    EmbeddingStore store(h, dim);
    EXPECT_EQ(store.row_stride(), stride) << dim;
    EXPECT_EQ(store.rows(5), 3u);
    EXPECT_EQ(store.table_floats(5), 3u * stride);
    // 25 tables of 10 rows and one of 3, each row padded to the stride, plus a float per row.
    EXPECT_EQ(store.state_bytes(), (25u * 10 + 3) * (stride + 1) * sizeof(float)) << dim;
    for (int t = 0; t < kNumSparse; ++t) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(store.table_data(t)) % 64, 0u);
      EXPECT_EQ(store.row(t, 2), store.table_data(t) + 2 * stride);
      EXPECT_EQ(store.accumulator(t)[0], 0.0f);
    }
  }
  EXPECT_THROW(EmbeddingStore(h, 0), Error);
  h.rows[2] = 1;
  EXPECT_THROW(EmbeddingStore(h, 4), Error);
}

TEST(EmbeddingStore, AnyNumberOfTables) {
  HashingConfig h = HashingConfig::uniform(10, 0, 3);
  h.rows[1] = 6;
  EmbeddingStore store(h, 5);  // stride 8
  EXPECT_EQ(store.tables(), 3);
  EXPECT_EQ(store.rows(1), 6u);
  EXPECT_EQ(store.state_bytes(), (10u + 6 + 10) * (8 + 1) * sizeof(float));
  const EmbeddingStore none(HashingConfig::uniform(10, 0, 0), 4);  // an all-numeric schema
  EXPECT_EQ(none.tables(), 0);
  EXPECT_EQ(none.state_bytes(), 0u);
}

TEST(OptimizerConfig, ParseListsValidValues) {
  EXPECT_EQ(OptimizerConfig::parse("sgd"), DenseOptimizer::Sgd);
  EXPECT_EQ(OptimizerConfig::parse("adagrad"), DenseOptimizer::Adagrad);
  const std::string m = error_of([] { OptimizerConfig::parse("adam"); });
  EXPECT_NE(m.find("adam"), std::string::npos);
  EXPECT_NE(m.find("adagrad, sgd"), std::string::npos);
}

// The library names the configuration field, never a command-line flag.
TEST(OptimizerConfig, ParseErrorNamesTheField) {
  EXPECT_EQ(error_of([] { OptimizerConfig::parse("adam"); }),
            "optimizer: unknown dense optimizer 'adam' (valid: adagrad, sgd)");
}

TEST(NamedParameters, NameEveryTensorWithItsShapeAndFloats) {
  const HashingConfig h = HashingConfig::uniform(5, 0, 26);
  const Model model(ModelConfig::preset("tiny", h));
  AlignedFloatBuffer dense(model.layout().total_floats);
  model.init_dense(dense.data(), 3);
  EmbeddingStore store(h, 4);
  model.init_embeddings(store, 3);
  const std::vector<NamedTensor> params = named_parameters(model, dense.data(), store);
  ASSERT_EQ(params.size(), 2u * 2u + 26u + 2u * 2u);
  EXPECT_EQ(params[0].name, "bottom.0.weight");
  EXPECT_EQ(params[0].shape, (std::vector<int64_t>{8, 13}));
  EXPECT_EQ(params[0].data, dense.data() + model.layout().bottom[0].weight_offset);
  EXPECT_EQ(params[3].name, "bottom.1.bias");
  EXPECT_EQ(params[3].shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(params[4].name, "embedding.0.weight");
  EXPECT_EQ(params[4].shape, (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(params[29].name, "embedding.25.weight");
  EXPECT_EQ(params[30].name, "top.0.weight");
  EXPECT_EQ(params[33].name, "top.1.bias");
  EXPECT_EQ(params[33].shape, (std::vector<int64_t>{1}));
  // Packed: the table's rows without the store's padding.
  const std::vector<float> table = params[5].packed();
  ASSERT_EQ(table.size(), 20u);
  EXPECT_EQ(table[4 + 2], store.row(1, 1)[2]);
  EXPECT_EQ(table[19], store.row(1, 4)[3]);
  EXPECT_NE(error_of([&] {
              EmbeddingStore other(h, 8);
              named_parameters(model, dense.data(), other);
            }).find("embedding tables of another model"),
            std::string::npos);
}

TEST(NamedParameters, DcnCrossLayersComeBetweenEmbeddingsAndTop) {
  const FeatureSchema schema = test::mixed_schema();  // 3 numeric, 4 tables: V = 5, D = 20
  const HashingConfig h = HashingConfig::uniform(5, 0, 4);
  for (const int rank : {0, 3}) {
    ModelConfig c = ModelConfig::preset("tiny", h, schema);
    c.interaction = Interaction::Dcn;
    c.cross_layers = 2;
    c.cross_rank = rank;
    const Model model(c);
    AlignedFloatBuffer dense(model.layout().total_floats);
    model.init_dense(dense.data(), 3);
    EmbeddingStore store(h, 4);
    model.init_embeddings(store, 3);
    const std::vector<NamedTensor> params = named_parameters(model, dense.data(), store);
    const size_t per_layer = rank == 0 ? 2 : 3;
    ASSERT_EQ(params.size(), 4u + 4u + 2 * per_layer + 4u);
    EXPECT_EQ(params[7].name, "embedding.3.weight");
    const auto& C0 = model.layout().cross[0];
    const auto& C1 = model.layout().cross[1];
    if (rank == 0) {
      EXPECT_EQ(params[8].name, "cross.0.weight");
      EXPECT_EQ(params[8].shape, (std::vector<int64_t>{20, 20}));
      EXPECT_EQ(params[8].data, dense.data() + C0.weight_offset);
      EXPECT_EQ(params[9].name, "cross.0.bias");
      EXPECT_EQ(params[10].name, "cross.1.weight");
      EXPECT_EQ(params[11].name, "cross.1.bias");
      EXPECT_EQ(params[11].shape, (std::vector<int64_t>{20}));
      EXPECT_EQ(params[11].data, dense.data() + C1.bias_offset);
      // Xavier normal over 20 x 20 (std sqrt(2/40) = 0.22): not all zero, bias 0.
      double sumsq = 0;
      for (float v : params[8].packed()) sumsq += double(v) * v;
      EXPECT_NEAR(std::sqrt(sumsq / 400), 0.2236, 0.03);
      for (float v : params[9].packed()) EXPECT_EQ(v, 0.0f);
    } else {
      EXPECT_EQ(params[8].name, "cross.0.v");
      EXPECT_EQ(params[8].shape, (std::vector<int64_t>{3, 20}));
      EXPECT_EQ(params[8].data, dense.data() + C0.v_offset);
      EXPECT_EQ(params[9].name, "cross.0.u");
      EXPECT_EQ(params[9].shape, (std::vector<int64_t>{20, 3}));
      EXPECT_EQ(params[9].row_stride, 3);
      EXPECT_EQ(params[9].data, dense.data() + C0.u_offset);
      EXPECT_EQ(params[10].name, "cross.0.bias");
      EXPECT_EQ(params[13].name, "cross.1.bias");
    }
    EXPECT_EQ(params[8 + 2 * per_layer].name, "top.0.weight");
    EXPECT_EQ(params[8 + 2 * per_layer].shape, (std::vector<int64_t>{8, 20}));
  }
}

}  // namespace
}  // namespace shadowsync
