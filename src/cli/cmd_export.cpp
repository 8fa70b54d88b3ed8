// `shadowsync export`: a checkpoint's model as ONNX (OUT.onnx, OUT.onnx.data for external
// initializers, OUT.serving.json beside it; include/shadowsync/export/onnx_export.hpp), and a
// summary of what was written on standard output.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/export/onnx_export.hpp"
#include "shadowsync/train/trained_model.hpp"

namespace shadowsync::cli {

void add_export_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::string out;
    int opset = OnnxExportOptions::kMinOpset;
    std::optional<uint64_t> external_data_threshold;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("export", "Write a checkpoint's model as ONNX (the click probability of hashed inputs)");
  cmd->add_option("--checkpoint", options->checkpoint, "Checkpoint written by `train`")->required();
  cmd->add_option("--out", options->out,
                  "The ONNX model, a file name ending in .onnx; OUT's stem.serving.json (inputs, schema, "
                  "hashing) and, for external data, OUT.data are written beside it")
      ->required();
  cmd->add_option("--opset", options->opset,
                  fmt::format("ONNX opset of the graph ({} to {})", OnnxExportOptions::kMinOpset,
                              OnnxExportOptions::kMaxOpset))
      ->capture_default_str();
  cmd->add_option("--external-data-threshold", options->external_data_threshold,
                  "Initializers of at least this many bytes go to OUT.data (ONNX external data); default: "
                  "none, unless the parameters exceed 1 GiB (ONNX files are limited to 2 GB)");
  cmd->callback([options] {
    OnnxExportOptions export_options;
    export_options.opset = options->opset;
    export_options.external_data_threshold = options->external_data_threshold;
    export_options.inputs = {{"checkpoint", options->checkpoint}};
    check_export_paths(options->out, export_options);  // before the checkpoint is read
    const TrainedModel trained = TrainedModel::load(options->checkpoint);
    const OnnxExportResult r =
        export_onnx(trained.model(), trained.dense(), trained.embeddings(), options->out, export_options);
    std::printf("wrote %s (%llu bytes; opset %d; %d initializers%s)\n", r.model_path.c_str(),
                static_cast<unsigned long long>(r.model_bytes), r.opset, r.initializers,
                r.external_tensors > 0 ? fmt::format(", {} of them in {}", r.external_tensors, r.data_path).c_str() : "");
    if (!r.data_path.empty()) {
      std::printf("wrote %s (%llu bytes of external data)\n", r.data_path.c_str(),
                  static_cast<unsigned long long>(r.data_bytes));
    }
    std::printf("wrote %s (%llu bytes)\n", r.serving_path.c_str(), static_cast<unsigned long long>(r.serving_bytes));
    for (const ServingInput& in : r.inputs) {
      std::string shape;
      for (const std::string& d : in.shape) shape += (shape.empty() ? "" : ", ") + d;
      std::string columns;
      for (size_t i = 0; i < in.columns.size(); ++i) {
        if (i == 4 && in.columns.size() > 5) {
          columns += fmt::format(", ... ({} columns)", in.columns.size());
          break;
        }
        columns += (i == 0 ? "" : ", ") + in.columns[i];
      }
      std::printf("input %s: %s [%s] (%s)\n", in.name.c_str(), in.dtype.c_str(), shape.c_str(), columns.c_str());
    }
    std::printf("output probability: float32 [batch]\n");
  });
}

}  // namespace shadowsync::cli
