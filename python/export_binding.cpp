// The ONNX export of a trained model for Python (Model.to_onnx): export_onnx
// (include/shadowsync/export/onnx_export.hpp) with the output field spelled path=. Refusals
// before anything is written (the path, the opset, an interaction the graph cannot express) are
// ValueError; failures while writing are OSError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "errors.hpp"
#include "shadowsync/export/onnx_export.hpp"
#include "shadowsync/train/trained_model.hpp"

namespace shadowsync::python {

namespace py = pybind11;

namespace {

py::dict export_model(const TrainedModel& trained, const std::string& path, int opset,
                      std::optional<uint64_t> external_data_threshold) {
  OnnxExportOptions options;
  options.opset = opset;
  options.external_data_threshold = external_data_threshold;
  options.out_field = "path";
  try {
    check_exportable(trained.model().config());
    if (opset < OnnxExportOptions::kMinOpset || opset > OnnxExportOptions::kMaxOpset) {
      throw Error(field("opset") + " expects an integer in [" + std::to_string(OnnxExportOptions::kMinOpset) + ", " +
                  std::to_string(OnnxExportOptions::kMaxOpset) + "], got " + std::to_string(opset));
    }
    check_export_paths(path, options);
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
  OnnxExportResult r;
  try {
    py::gil_scoped_release release;
    r = export_onnx(trained.model(), trained.dense(), trained.embeddings(), path, options);
  } catch (const Error& e) {
    raise_python(ErrorKind::OS, e);
  }
  py::list inputs;
  for (const ServingInput& in : r.inputs) inputs.append(in.name);
  py::dict out;
  out["model"] = r.model_path;
  out["model_bytes"] = r.model_bytes;
  out["data"] = r.data_path.empty() ? py::object(py::none()) : py::object(py::str(r.data_path));
  out["data_bytes"] = r.data_bytes;
  out["serving"] = r.serving_path;
  out["inputs"] = inputs;
  return out;
}

}  // namespace

void bind_export(py::module_& m) {
  m.def("_export_onnx", &export_model, py::arg("model"), py::arg("path"), py::arg("opset"),
        py::arg("external_data_threshold") = py::none());
}

}  // namespace shadowsync::python
