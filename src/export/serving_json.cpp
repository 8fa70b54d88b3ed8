// The serving description of a model (onnx_export.hpp): its graph inputs, the files beside an
// exported model, and <stem>.serving.json.
#include <string>
#include <vector>

#include "shadowsync/core/file_io.hpp"
#include "shadowsync/export/onnx_export.hpp"

namespace shadowsync {
namespace {

std::string without_onnx_suffix(const std::string& onnx_path) {
  const std::string suffix = ".onnx";
  if (onnx_path.size() >= suffix.size() && onnx_path.compare(onnx_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return onnx_path.substr(0, onnx_path.size() - suffix.size());
  }
  return onnx_path;
}

}  // namespace

std::vector<ServingInput> serving_inputs(const ModelConfig& config) {
  const FeatureSchema& schema = config.schema;
  std::vector<ServingInput> out;
  const int n = schema.numeric_count(), s = schema.categorical_count(), m_count = schema.multi_hot_count();
  if (n > 0) {
    ServingInput in{"numeric", "float32", {"batch", std::to_string(n)}, {}};
    for (int j = 0; j < n; ++j) in.columns.push_back(schema.numeric_name(j));
    out.push_back(in);
  }
  if (s > 0) {
    ServingInput in{"categorical", "int64", {"batch", std::to_string(s)}, {}};
    for (int t = 0; t < s; ++t) in.columns.push_back(schema.table_name(t));
    out.push_back(in);
  }
  for (int m = 0; m < m_count; ++m) {
    const std::string name = "multi_hot_" + std::to_string(m);
    const std::string column = schema.table_name(s + m);
    out.push_back(ServingInput{name, "int64", {"batch", name + "_max_length"}, {column}});
    out.push_back(ServingInput{name + "_length", "int64", {"batch"}, {column}});
  }
  return out;
}

std::string serving_json_path(const std::string& onnx_path) { return without_onnx_suffix(onnx_path) + ".serving.json"; }

std::string external_data_path(const std::string& onnx_path) { return onnx_path + ".data"; }

nlohmann::json serving_json(const ModelConfig& config) {
  nlohmann::json inputs = nlohmann::json::array();
  for (const ServingInput& in : serving_inputs(config)) {
    nlohmann::json shape = nlohmann::json::array();
    for (const std::string& dim : in.shape) {
      const bool number = !dim.empty() && dim.find_first_not_of("0123456789") == std::string::npos;
      if (number) {
        shape.push_back(std::stoll(dim));
      } else {
        shape.push_back(dim);
      }
    }
    inputs.push_back({{"name", in.name}, {"dtype", in.dtype}, {"shape", shape}, {"columns", in.columns}});
  }
  return {{"format", "shadowsync-serving"},
          {"version", 1},
          {"schema", config.schema.to_json()},
          {"hashing", {{"rows", config.hashing.rows}, {"salt", config.hashing.salt}}},
          {"inputs", inputs},
          {"output", "probability"},
          {"model", config.to_json()}};
}

uint64_t write_serving_json(const ModelConfig& config, const std::string& path) {
  const std::string text = serving_json(config).dump(2) + "\n";
  AtomicFileWriter writer(path);
  writer.write(text);
  writer.commit();
  return text.size();
}

}  // namespace shadowsync
