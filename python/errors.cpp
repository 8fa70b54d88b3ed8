// Error translation for the Python module (see errors.hpp).
#include "errors.hpp"

namespace shadowsync::python {

std::string python_message(const Error& e) {
  return e.message([](std::string_view name) { return std::string(name) + "="; });
}

void raise_python(ErrorKind kind, const std::string& message) {
  PyObject* type = kind == ErrorKind::Value ? PyExc_ValueError
                   : kind == ErrorKind::OS  ? PyExc_OSError
                                            : PyExc_RuntimeError;
  PyErr_SetString(type, message.c_str());
  throw pybind11::error_already_set();
}

}  // namespace shadowsync::python
