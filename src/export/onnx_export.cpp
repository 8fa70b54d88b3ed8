// export_onnx (onnx_export.hpp): the checks before writing, large initializers moved to
// <stem>.onnx.data (external data), the atomic writes, and ONNX's checker on the result.
#include "shadowsync/export/onnx_export.hpp"

#include <onnx/checker.h>

#include <filesystem>
#include <memory>
#include <string>

#include "onnx_graph.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

// The file name of `path` (its location relative to the model's folder).
std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

// Moves the raw data of every initializer of at least `threshold` bytes to the file `data_path`
// (64-byte aligned offsets; `writer` is made for the first one), leaving EXTERNAL references to
// its file name, and frees the moved bytes. Returns how many moved.
int move_to_external(onnx::GraphProto& graph, uint64_t threshold, const std::string& data_path,
                     std::unique_ptr<AtomicFileWriter>& writer) {
  static constexpr char kZeros[64] = {};
  int moved = 0;
  for (onnx::TensorProto& t : *graph.mutable_initializer()) {
    if (t.raw_data().size() < threshold) continue;
    if (!writer) writer = std::make_unique<AtomicFileWriter>(data_path);
    writer->write(kZeros, (64 - writer->bytes_written() % 64) % 64);
    const size_t offset = writer->bytes_written();
    writer->write(t.raw_data().data(), t.raw_data().size());
    const size_t length = t.raw_data().size();
    std::string().swap(*t.mutable_raw_data());  // clear_raw_data() would keep the capacity
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    const std::pair<const char*, std::string> entries[] = {
        {"location", file_name(data_path)}, {"offset", std::to_string(offset)}, {"length", std::to_string(length)}};
    for (const auto& [key, value] : entries) {
      onnx::StringStringEntryProto* e = t.add_external_data();
      e->set_key(key);
      e->set_value(value);
    }
    ++moved;
  }
  return moved;
}

uint64_t initializer_bytes(const onnx::GraphProto& graph) {
  uint64_t total = 0;
  for (const onnx::TensorProto& t : graph.initializer()) total += t.raw_data().size();
  return total;
}

void write_atomically(const std::string& path, const std::string& bytes) {
  AtomicFileWriter writer(path);
  writer.write(bytes.data(), bytes.size());
  writer.commit();
}

// Runs ONNX's checker; its refusal becomes an Error naming the output.
template <typename Check>
void check_with_onnx(const std::string& onnx_path, const std::string& out_field, Check check) {
  try {
    check();
  } catch (const std::exception& e) {
    throw Error(field(out_field) + " '" + onnx_path + "': ONNX's checker refuses the exported model: " + e.what());
  }
}

}  // namespace

void check_exportable(const ModelConfig& config) { export_detail::check_interaction(config); }

void check_export_paths(const std::string& onnx_path, const OnnxExportOptions& options) {
  const std::string out = field(options.out_field);
  const std::string suffix = ".onnx";
  if (onnx_path.size() <= suffix.size() || onnx_path.compare(onnx_path.size() - suffix.size(), suffix.size(), suffix) != 0 ||
      file_name(onnx_path) == suffix) {
    throw Error(out + " '" + onnx_path + "' must be a file name ending in .onnx (the files beside it are named after it: " +
                file_name(serving_json_path(onnx_path)) + ", " + file_name(external_data_path(onnx_path)) + ")");
  }
  const fs::path folder = fs::path(onnx_path).parent_path();
  std::error_code ec;
  if (!folder.empty() && !fs::is_directory(folder, ec)) {
    throw Error(out + " '" + onnx_path + "': folder '" + folder.string() + "' does not exist");
  }
  if (fs::is_directory(onnx_path, ec)) throw Error(out + " '" + onnx_path + "' is a folder");
  std::vector<std::pair<std::string_view, std::string>> inputs;
  std::vector<std::string> names;
  names.reserve(options.inputs.size());
  for (const auto& [name, path] : options.inputs) names.push_back(field(name));
  for (size_t i = 0; i < options.inputs.size(); ++i) inputs.emplace_back(names[i], options.inputs[i].second);
  refuse_output_over_input(out, onnx_path, inputs);
  refuse_output_over_input(out + " (its serving description)", serving_json_path(onnx_path), inputs);
  refuse_output_over_input(out + " (its external data)", external_data_path(onnx_path), inputs);
}

OnnxExportResult export_onnx(const Model& model, const float* dense, const EmbeddingStore& embeddings,
                             const std::string& onnx_path, const OnnxExportOptions& options) {
  check_exportable(model.config());
  if (options.opset < OnnxExportOptions::kMinOpset || options.opset > OnnxExportOptions::kMaxOpset) {
    throw Error(field("opset") + " expects an integer in [" + std::to_string(OnnxExportOptions::kMinOpset) + ", " +
                std::to_string(OnnxExportOptions::kMaxOpset) + "], got " + std::to_string(options.opset));
  }
  check_export_paths(onnx_path, options);
  onnx::ModelProto proto = export_detail::build_onnx_model(model, dense, embeddings, options.opset);

  OnnxExportResult result;
  result.model_path = onnx_path;
  result.opset = options.opset;
  result.inputs = serving_inputs(model.config());
  result.initializers = proto.graph().initializer_size();
  uint64_t threshold = options.external_data_threshold.value_or(UINT64_MAX);
  if (!options.external_data_threshold && initializer_bytes(proto.graph()) > OnnxExportOptions::kAutoExternalBytes) {
    threshold = 1024;
  }
  const std::string data_path = external_data_path(onnx_path);
  std::unique_ptr<AtomicFileWriter> data_writer;
  result.external_tensors = move_to_external(*proto.mutable_graph(), threshold, data_path, data_writer);
  // Inline tensors are checked in memory (reading the file back would hold the model twice more);
  // external ones from the files, which the checker reads beside the model.
  if (result.external_tensors == 0) check_with_onnx(onnx_path, options.out_field, [&] { onnx::checker::check_model(proto); });
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) {
    throw Error(field(options.out_field) + " '" + onnx_path +
                "': the model cannot be serialized (over protobuf's 2 GB limit: write its tables as external data)");
  }
  proto.Clear();
  if (data_writer) {
    result.data_path = data_path;
    result.data_bytes = data_writer->bytes_written();
    data_writer->commit();
  } else {
    std::error_code ec;
    fs::remove(data_path, ec);  // a stale one from an earlier export of a larger model
  }
  write_atomically(onnx_path, bytes);
  result.model_bytes = bytes.size();
  if (data_writer) check_with_onnx(onnx_path, options.out_field, [&] { onnx::checker::check_model(onnx_path); });
  result.serving_path = serving_json_path(onnx_path);
  result.serving_bytes = write_serving_json(model.config(), result.serving_path);
  return result;
}

}  // namespace shadowsync
