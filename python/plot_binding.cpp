// shadowsync._plot_metrics: training curves of metrics JSON-lines files into a PNG, the code
// `shadowsync plot` runs (include/shadowsync/metrics/training_curves.hpp).
#include <string>
#include <vector>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "errors.hpp"
#include "shadowsync/metrics/training_curves.hpp"

namespace py = pybind11;

namespace shadowsync::python {

void bind_plot(py::module_& m) {
  m.def("_plot_metrics", [](const std::vector<std::string>& paths, const std::string& out, const std::string& gnuplot) {
    try {
      py::gil_scoped_release release;
      plot_training_curves(paths, out, gnuplot);
    } catch (const CurvesInputError& e) {
      raise_python(ErrorKind::Value, e);
    } catch (const CurvesToolError& e) {
      raise_python(ErrorKind::Runtime, e);
    } catch (const Error& e) {
      raise_python(ErrorKind::OS, e);
    }
  }, py::arg("paths"), py::arg("out"), py::arg("gnuplot") = "gnuplot");
}

}  // namespace shadowsync::python
