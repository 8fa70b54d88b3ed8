// shadowsync._shadowsync: the C++ side of the Python package (python/shadowsync/ is the public
// API). Data (data_binding.cpp), training, trained models and the generator (train_binding.cpp), training curves (plot_binding.cpp), the run option table
// (run_options_binding.cpp), ONNX export (export_binding.cpp), a model's tensors by exported name
// (parameters_binding.cpp).
#include <pybind11/pybind11.h>

#include "data_binding.hpp"

namespace shadowsync::python {
void bind_train(pybind11::module_& m);
void bind_plot(pybind11::module_& m);
void bind_run_options(pybind11::module_& m);
void bind_export(pybind11::module_& m);
void bind_parameters(pybind11::module_& m);
}

PYBIND11_MODULE(_shadowsync, m) {
  m.doc() = "C++ engine of the shadowsync package (use the shadowsync module)";
  shadowsync::python::bind_data(m);
  shadowsync::python::bind_train(m);
  shadowsync::python::bind_plot(m);
  shadowsync::python::bind_run_options(m);
  shadowsync::python::bind_export(m);
  shadowsync::python::bind_parameters(m);
}
