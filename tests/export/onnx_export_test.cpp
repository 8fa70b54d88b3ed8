// export_onnx (include/shadowsync/export/onnx_export.hpp) read back with ONNX's protobuf classes:
// graph inputs and output, initializer names, shapes and floats in named_parameters() order,
// the serving JSON, external data, and the refusals (paths, opset, interaction).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../common/temp_paths.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/export/onnx_export.hpp"
#include "shadowsync/model/named_parameters.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

// A model with 2 numeric columns (log1p, identity), 2 categorical and one multi-hot column
// (mean pooling): tiny's layers, random parameters.
struct Fixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<AlignedFloatBuffer> dense;
  std::unique_ptr<EmbeddingStore> store;
};

FeatureSchema mixed_schema() {
  return FeatureSchema::from_json(nlohmann::json::parse(R"({"columns": [
      {"name": "click", "kind": "label"}, {"name": "count", "kind": "numeric"},
      {"name": "price", "kind": "numeric", "transform": "identity"},
      {"name": "site", "kind": "categorical"}, {"name": "app", "kind": "categorical"},
      {"name": "tags", "kind": "multi_hot", "separator": "|", "pooling": "mean"}], "hex_ids": false})"),
                                  "test schema");
}

Fixture make_model(const FeatureSchema& schema, Interaction interaction = Interaction::Dot) {
  HashingConfig hashing = HashingConfig::uniform(64, 3, schema.table_count());
  hashing.rows[0] = 32;
  ModelConfig config = ModelConfig::preset("tiny", hashing, schema);
  config.interaction = interaction;
  Fixture f;
  f.model = std::make_unique<Model>(config);
  f.dense = std::make_unique<AlignedFloatBuffer>(f.model->layout().total_floats);
  f.model->init_dense(f.dense->data(), 7);
  f.store = std::make_unique<EmbeddingStore>(config.hashing, config.embedding_dim);
  f.model->init_embeddings(*f.store, 8);
  return f;
}

onnx::ModelProto read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(bytes)) << path;
  return proto;
}

std::vector<std::string> shape_of(const onnx::ValueInfoProto& v) {
  std::vector<std::string> dims;
  for (const auto& d : v.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
  }
  return dims;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OnnxExport, GraphInputsOutputAndInitializersFollowTheContract) {
  test::TempDir dir("shadowsync_export");
  const Fixture f = make_model(mixed_schema());
  const std::string path = dir.file("m.onnx");
  const OnnxExportResult r = export_onnx(*f.model, f.dense->data(), *f.store, path);
  EXPECT_EQ(r.model_path, path);
  EXPECT_EQ(r.data_path, "");
  EXPECT_EQ(r.external_tensors, 0);
  EXPECT_EQ(r.model_bytes, fs::file_size(path));
  EXPECT_FALSE(fs::exists(dir.file("m.onnx.data")));
  EXPECT_EQ(r.serving_path, dir.file("m.serving.json"));
  EXPECT_EQ(r.serving_bytes, fs::file_size(r.serving_path));
  {
    std::ifstream in(r.serving_path);
    EXPECT_EQ(nlohmann::json::parse(in), serving_json(f.model->config()));
  }
  const onnx::ModelProto proto = read_model(path);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  const onnx::GraphProto& g = proto.graph();

  ASSERT_EQ(g.input_size(), 4);
  EXPECT_EQ(g.input(0).name(), "numeric");
  EXPECT_EQ(g.input(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(shape_of(g.input(0)), (std::vector<std::string>{"batch", "2"}));
  EXPECT_EQ(g.input(1).name(), "categorical");
  EXPECT_EQ(g.input(1).type().tensor_type().elem_type(), onnx::TensorProto::INT64);
  EXPECT_EQ(shape_of(g.input(1)), (std::vector<std::string>{"batch", "2"}));
  EXPECT_EQ(g.input(2).name(), "multi_hot_0");
  EXPECT_EQ(shape_of(g.input(2)), (std::vector<std::string>{"batch", "multi_hot_0_max_length"}));
  EXPECT_EQ(g.input(3).name(), "multi_hot_0_length");
  EXPECT_EQ(shape_of(g.input(3)), (std::vector<std::string>{"batch"}));
  ASSERT_EQ(g.output_size(), 1);
  EXPECT_EQ(g.output(0).name(), "probability");
  EXPECT_EQ(shape_of(g.output(0)), (std::vector<std::string>{"batch"}));

  const std::vector<NamedTensor> params = named_parameters(*f.model, f.dense->data(), *f.store);
  ASSERT_EQ(g.initializer_size(), int(params.size()));
  EXPECT_EQ(r.initializers, int(params.size()));
  // tiny: bottom 8-4 (2 layers), 3 tables, top 8-1 (2 layers).
  ASSERT_EQ(params.size(), 4u + 3u + 4u);
  for (size_t i = 0; i < params.size(); ++i) {
    const onnx::TensorProto& t = g.initializer(int(i));
    EXPECT_EQ(t.name(), params[i].name);
    EXPECT_EQ(std::vector<int64_t>(t.dims().begin(), t.dims().end()), params[i].shape) << t.name();
    const std::vector<float> packed = params[i].packed();
    ASSERT_EQ(t.raw_data().size(), packed.size() * sizeof(float)) << t.name();
    EXPECT_EQ(std::memcmp(t.raw_data().data(), packed.data(), t.raw_data().size()), 0) << t.name();
  }
  EXPECT_EQ(g.initializer(0).name(), "bottom.0.weight");
  EXPECT_EQ(std::vector<int64_t>(g.initializer(0).dims().begin(), g.initializer(0).dims().end()),
            (std::vector<int64_t>{8, 2}));
  EXPECT_EQ(g.initializer(4).name(), "embedding.0.weight");
  EXPECT_EQ(g.initializer(4).dims(0), 32);
  EXPECT_EQ(g.initializer(10).name(), "top.1.bias");
  // The last node gives the output, through a sigmoid.
  EXPECT_EQ(g.node(g.node_size() - 1).op_type(), "Sigmoid");
  EXPECT_EQ(g.node(g.node_size() - 1).output(0), "probability");
}

// A model with bf16 embedding rows exports fp32 initializers holding exactly its rows' values
// (widened), the same bytes as an fp32 store of those values exports.
TEST(OnnxExport, Bf16RowsExportAsTheirExactFp32Values) {
  test::TempDir dir("shadowsync_export");
  const Fixture f = make_model(mixed_schema());
  const ModelConfig& config = f.model->config();
  EmbeddingStore bf16(config.hashing, config.embedding_dim, RowFormat::Bf16);
  f.model->init_embeddings(bf16, 8);
  EmbeddingStore widened(config.hashing, config.embedding_dim);
  for (int t = 0; t < bf16.tables(); ++t) {
    for (uint32_t r = 0; r < bf16.rows(t); ++r) {
      for (int k = 0; k < config.embedding_dim; ++k) widened.row(t, r)[k] = bf16_to_float(bf16.row_bf16(t, r)[k]);
    }
  }
  export_onnx(*f.model, f.dense->data(), bf16, dir.file("b.onnx"));
  export_onnx(*f.model, f.dense->data(), widened, dir.file("w.onnx"));
  const onnx::GraphProto b = read_model(dir.file("b.onnx")).graph(), w = read_model(dir.file("w.onnx")).graph();
  ASSERT_EQ(b.initializer_size(), w.initializer_size());
  int tables = 0;
  for (int i = 0; i < b.initializer_size(); ++i) {
    EXPECT_EQ(b.initializer(i).data_type(), onnx::TensorProto::FLOAT) << b.initializer(i).name();
    EXPECT_EQ(b.initializer(i).raw_data(), w.initializer(i).raw_data()) << b.initializer(i).name();
    if (b.initializer(i).name().rfind("embedding.", 0) == 0) {
      ++tables;
      // every value is a BF16 (its low 16 bits zero), and not all are zero
      const std::string& raw = b.initializer(i).raw_data();
      std::vector<uint32_t> bits(raw.size() / 4);
      std::memcpy(bits.data(), raw.data(), raw.size());
      size_t nonzero = 0;
      for (uint32_t x : bits) {
        EXPECT_EQ(x & 0xFFFFu, 0u);
        nonzero += x != 0;
      }
      EXPECT_GT(nonzero, bits.size() / 2);
    }
  }
  EXPECT_EQ(tables, 3);
}

TEST(OnnxExport, SchemaWithoutNumericColumnsHasNoNumericInputNorBottomLayers) {
  test::TempDir dir("shadowsync_export");
  const FeatureSchema schema = FeatureSchema::from_json(nlohmann::json::parse(R"({"columns": [
      {"name": "y", "kind": "label"}, {"name": "a", "kind": "categorical"}, {"name": "b", "kind": "categorical"},
      {"name": "c", "kind": "categorical"}]})"), "test");
  const Fixture f = make_model(schema, Interaction::Cat);
  export_onnx(*f.model, f.dense->data(), *f.store, dir.file("n.onnx"));
  const onnx::GraphProto g = read_model(dir.file("n.onnx")).graph();
  ASSERT_EQ(g.input_size(), 1);
  EXPECT_EQ(g.input(0).name(), "categorical");
  EXPECT_EQ(g.initializer(0).name(), "embedding.0.weight");
  for (const auto& n : g.node()) EXPECT_NE(n.op_type(), "MatMul") << "cat has no dot products";
}

TEST(OnnxExport, ServingJsonNamesInputsColumnsHashingAndModel) {
  const Fixture f = make_model(mixed_schema());
  const nlohmann::json j = serving_json(f.model->config());
  EXPECT_EQ(j["format"], "shadowsync-serving");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["output"], "probability");
  EXPECT_EQ(j["hashing"]["rows"], nlohmann::json::parse("[32, 64, 64]"));
  EXPECT_EQ(j["hashing"]["salt"], 3);
  EXPECT_EQ(j["model"], f.model->config().to_json());
  EXPECT_EQ(j["schema"], mixed_schema().to_json());
  ASSERT_EQ(j["inputs"].size(), 4u);
  EXPECT_EQ(j["inputs"][0], nlohmann::json::parse(
                                R"({"name": "numeric", "dtype": "float32", "shape": ["batch", 2], "columns": ["count", "price"]})"));
  EXPECT_EQ(j["inputs"][1]["columns"], nlohmann::json::parse(R"(["site", "app"])"));
  EXPECT_EQ(j["inputs"][2], nlohmann::json::parse(
                                R"({"name": "multi_hot_0", "dtype": "int64", "shape": ["batch", "multi_hot_0_max_length"], "columns": ["tags"]})"));
  EXPECT_EQ(j["inputs"][3]["name"], "multi_hot_0_length");
  EXPECT_EQ(serving_json_path("d/m.onnx"), "d/m.serving.json");
  EXPECT_EQ(external_data_path("d/m.onnx"), "d/m.onnx.data");
  test::TempDir dir("shadowsync_export");
  const uint64_t bytes = write_serving_json(f.model->config(), dir.file("m.serving.json"));
  EXPECT_EQ(bytes, fs::file_size(dir.file("m.serving.json")));
  std::ifstream in(dir.file("m.serving.json"));
  EXPECT_EQ(nlohmann::json::parse(in), j);
}

// A threshold of 1 byte writes every initializer to m.onnx.data; the references and bytes read back.
TEST(OnnxExport, ExternalDataHoldsTheInitializersAtTheirOffsets) {
  test::TempDir dir("shadowsync_export");
  const Fixture f = make_model(mixed_schema());
  OnnxExportOptions options;
  options.external_data_threshold = 1;
  const std::string path = dir.file("m.onnx");
  const OnnxExportResult r = export_onnx(*f.model, f.dense->data(), *f.store, path, options);
  const std::vector<NamedTensor> params = named_parameters(*f.model, f.dense->data(), *f.store);
  EXPECT_EQ(r.external_tensors, int(params.size()));
  EXPECT_EQ(r.data_path, dir.file("m.onnx.data"));
  EXPECT_EQ(r.data_bytes, fs::file_size(r.data_path));
  std::ifstream in(r.data_path, std::ios::binary);
  const std::string data((std::istreambuf_iterator<char>(in)), {});
  const onnx::GraphProto g = read_model(path).graph();
  for (size_t i = 0; i < params.size(); ++i) {
    const onnx::TensorProto& t = g.initializer(int(i));
    EXPECT_EQ(t.data_location(), onnx::TensorProto::EXTERNAL);
    EXPECT_TRUE(t.raw_data().empty());
    std::map<std::string, std::string> e;
    for (const auto& kv : t.external_data()) e[kv.key()] = kv.value();
    EXPECT_EQ(e["location"], "m.onnx.data");  // relative to the model
    const size_t offset = std::stoul(e["offset"]), length = std::stoul(e["length"]);
    EXPECT_EQ(offset % 64, 0u);
    const std::vector<float> packed = params[i].packed();
    ASSERT_EQ(length, packed.size() * sizeof(float));
    ASSERT_LE(offset + length, data.size());
    EXPECT_EQ(std::memcmp(data.data() + offset, packed.data(), length), 0) << t.name();
  }
  // A later export with everything inline removes the stale data file.
  export_onnx(*f.model, f.dense->data(), *f.store, path);
  EXPECT_FALSE(fs::exists(r.data_path));
}

TEST(OnnxExport, RefusesBadPathsAndOutputsOverInputs) {
  test::TempDir dir("shadowsync_export");
  const Fixture f = make_model(mixed_schema());
  const auto run = [&](const std::string& path, OnnxExportOptions options = {}) {
    return error_of([&] { export_onnx(*f.model, f.dense->data(), *f.store, path, options); });
  };
  EXPECT_EQ(run(dir.file("m.bin")), "out '" + dir.file("m.bin") +
                                        "' must be a file name ending in .onnx (the files beside it are named after it: "
                                        "m.bin.serving.json, m.bin.data)");
  EXPECT_NE(run(dir.file("no/m.onnx")).find("out '" + dir.file("no/m.onnx") + "': folder '" + dir.file("no") +
                                            "' does not exist"),
            std::string::npos);
  fs::create_directories(dir.file("d.onnx"));
  EXPECT_EQ(run(dir.file("d.onnx")), "out '" + dir.file("d.onnx") + "' is a folder");
  const std::string checkpoint = dir.write("m.onnx", "checkpoint bytes");
  OnnxExportOptions options;
  options.inputs = {{"checkpoint", checkpoint}};
  EXPECT_NE(run(checkpoint, options).find("out '" + checkpoint + "' is the same file as checkpoint '" + checkpoint + "'"),
            std::string::npos);
  const std::string json = dir.write("m2.serving.json", "checkpoint bytes");
  options.inputs = {{"checkpoint", json}};
  EXPECT_NE(run(dir.file("m2.onnx"), options).find("(its serving description) '" + json + "' is the same file as checkpoint"),
            std::string::npos);
  const std::string data = dir.write("m3.onnx.data", "checkpoint bytes");
  options.inputs = {{"checkpoint", data}};
  EXPECT_NE(run(dir.file("m3.onnx"), options).find("(its external data) '" + data + "' is the same file as checkpoint"),
            std::string::npos);
  std::ifstream in(checkpoint);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "checkpoint bytes");  // untouched
  EXPECT_FALSE(fs::exists(dir.file("m2.onnx")));
  options = {};
  options.opset = 12;
  EXPECT_EQ(run(dir.file("o.onnx"), options), "opset expects an integer in [13, 17], got 12");
  options.opset = 13;
  options.out_field = "path";
  EXPECT_EQ(run(dir.file("o.bin"), options).rfind("path '", 0), 0u);
}

// An interaction the graph cannot express is refused by name before anything is written
// (forged here: every interaction of this build can be exported).
TEST(OnnxExport, RefusesAnInteractionItCannotExpress) {
  HashingConfig hashing = HashingConfig::uniform(64, 0, 26);
  ModelConfig config = ModelConfig::preset("tiny", hashing);
  EXPECT_NO_THROW(check_exportable(config));
  config.interaction = Interaction::Cat;
  EXPECT_NO_THROW(check_exportable(config));
  config.interaction = static_cast<Interaction>(7);
  const std::string message = error_of([&] { check_exportable(config); });
  EXPECT_EQ(message, "export: interaction '" + interaction_name(config.interaction) + "' cannot be exported");
}

}  // namespace
}  // namespace shadowsync
