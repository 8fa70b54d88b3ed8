// shadowsync._model_parameters / _model_config: a trained model's tensors by their exported names
// (named_parameters(), the names the ONNX graph and Model.to_torch() give them) as packed float32
// NumPy copies, and its ModelConfig as JSON (architecture, hashing, schema).
#include <algorithm>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "errors.hpp"
#include "shadowsync/model/named_parameters.hpp"
#include "shadowsync/train/trained_model.hpp"

namespace py = pybind11;

namespace shadowsync::python {

void bind_parameters(py::module_& m) {
  m.def("_model_parameters", [](const TrainedModel& t) {
    std::vector<NamedTensor> tensors;
    try {
      tensors = named_parameters(t.model(), t.dense(), t.embeddings());
    } catch (const Error& e) {
      raise_python(ErrorKind::Value, e);
    }
    py::dict out;  // insertion order: named_parameters()'s order
    for (const NamedTensor& tensor : tensors) {
      std::vector<py::ssize_t> shape(tensor.shape.begin(), tensor.shape.end());
      py::array_t<float> array(shape);
      const std::vector<float> packed = tensor.packed();
      std::copy(packed.begin(), packed.end(), array.mutable_data());
      out[py::str(tensor.name)] = array;
    }
    return out;
  }, py::arg("model"), "The model's tensors by exported name: dict name -> float32 array (packed copies).");
  m.def("_model_config", [](const TrainedModel& t) { return t.model().config().to_json().dump(); }, py::arg("model"),
        "The model's ModelConfig as JSON text (bottom, top, embedding_dim, interaction, hashing, schema).");
}

}  // namespace shadowsync::python
