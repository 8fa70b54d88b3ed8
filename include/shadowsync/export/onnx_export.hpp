// ONNX export of a trained model (the serving contract: docs/serving.md). The graph takes the
// model's inputs after hashing and returns the click probability:
//   inputs   numeric float32 [batch, N] (raw values; each column's transform is in the graph),
//            categorical int64 [batch, S] (hashed rows), and per multi-hot column m
//            multi_hot_<m> int64 [batch, L_m] (rows padded with 0) + multi_hot_<m>_length int64
//            [batch]; an input of width 0 is absent
//   output   probability float32 [batch]
//   initializers  named_parameters() (shadowsync/model/named_parameters.hpp), in its order.
// Files: <stem>.onnx, and beside it <stem>.onnx.data when initializers are written as external
// data (ONNX's protobuf limit is 2 GB), and <stem>.serving.json (write_serving_json). Every file
// is written atomically (temporary + rename). Errors name the field `out_field` for the output
// path; an output that is one of `inputs` is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

struct OnnxExportOptions {
  static constexpr int kMinOpset = 13;
  static constexpr int kMaxOpset = 17;  // the newest opset of the ONNX library this builds with
  int opset = kMinOpset;
  // Initializers of at least this many bytes go to <stem>.onnx.data (TensorProto EXTERNAL,
  // location relative to the model). nullopt: none, unless all of them together exceed
  // kAutoExternalBytes; then every one of at least 1024 bytes.
  static constexpr uint64_t kAutoExternalBytes = uint64_t{1} << 30;
  std::optional<uint64_t> external_data_threshold;
  // The configuration field that names the output path in messages ("out").
  std::string out_field = "out";
  // Files the outputs must not be: (field, path), e.g. {"checkpoint", "m.ckpt"}.
  std::vector<std::pair<std::string, std::string>> inputs;
};

// One graph input of the contract.
struct ServingInput {
  std::string name;                // numeric, categorical, multi_hot_<m>, multi_hot_<m>_length
  std::string dtype;               // float32, int64
  std::vector<std::string> shape;  // "batch", a width, or a dynamic name (multi_hot_<m>_max_length)
  std::vector<std::string> columns;  // the schema's columns it carries, in order
};

// The graph inputs of a model of `config`, in graph order.
std::vector<ServingInput> serving_inputs(const ModelConfig& config);

// Throws Error "export: interaction 'x' cannot be exported" when the graph cannot express the
// model (ValueError-like: nothing was written).
void check_exportable(const ModelConfig& config);

// Paths beside `onnx_path` ("dir/m.onnx"): "dir/m.serving.json" and "dir/m.onnx.data".
std::string serving_json_path(const std::string& onnx_path);
std::string external_data_path(const std::string& onnx_path);

// Throws Error naming options.out_field unless `onnx_path` ends in ".onnx", its folder exists,
// and neither it nor the files beside it is one of options.inputs.
void check_export_paths(const std::string& onnx_path, const OnnxExportOptions& options);

struct OnnxExportResult {
  std::string model_path;
  uint64_t model_bytes = 0;
  std::string data_path;  // "" when every initializer is inside the model
  uint64_t data_bytes = 0;
  int external_tensors = 0;
  std::string serving_path;  // <stem>.serving.json
  uint64_t serving_bytes = 0;
  int initializers = 0;
  int opset = 0;
  std::vector<ServingInput> inputs;
};

// Writes the ONNX model of (`model`, `dense`, `embeddings`) to `onnx_path` (checks as
// check_exportable and check_export_paths first), checks it with ONNX's checker, and writes its
// serving description to serving_json_path(onnx_path). Removes a stale <stem>.onnx.data when
// nothing is external.
OnnxExportResult export_onnx(const Model& model, const float* dense, const EmbeddingStore& embeddings,
                             const std::string& onnx_path, const OnnxExportOptions& options = {});

// The serving description: {"format": "shadowsync-serving", "version": 1, "schema", "hashing":
// {"rows", "salt"}, "inputs": [{"name", "dtype", "shape", "columns"}], "output": "probability",
// "model": ModelConfig JSON}.
nlohmann::json serving_json(const ModelConfig& config);
// Writes serving_json(config) to `path` atomically; returns the bytes written.
uint64_t write_serving_json(const ModelConfig& config, const std::string& path);

}  // namespace shadowsync
