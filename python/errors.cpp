// Error translation for the Python module (see errors.hpp).
#include "errors.hpp"

#include <cerrno>
#include <cstring>

namespace shadowsync::python {

std::string python_message(const Error& e) {
  return e.message([](std::string_view name) { return std::string(name) + "="; });
}

namespace {

// The errno whose text (strerror) ends a file error's message, or 0: OSError(errno, message)
// then becomes its subclass (FileNotFoundError, IsADirectoryError, PermissionError, ...).
int trailing_errno(const std::string& message) {
  for (const int code : {ENOENT, EISDIR, ENOTDIR, EACCES, EPERM}) {
    const std::string text = std::strerror(code);
    if (message.size() >= text.size() && message.compare(message.size() - text.size(), text.size(), text) == 0) {
      return code;
    }
  }
  if (message.find("is a directory") != std::string::npos) return EISDIR;
  return 0;
}

}  // namespace

void raise_python(ErrorKind kind, const std::string& message) {
  if (kind == ErrorKind::OS) {
    if (const int code = trailing_errno(message)) {
      PyObject* args = Py_BuildValue("(is)", code, message.c_str());
      if (args != nullptr) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
        throw pybind11::error_already_set();
      }
    }
  }
  PyObject* type = kind == ErrorKind::Value ? PyExc_ValueError
                   : kind == ErrorKind::Type ? PyExc_TypeError
                   : kind == ErrorKind::OS  ? PyExc_OSError
                                            : PyExc_RuntimeError;
  PyErr_SetString(type, message.c_str());
  throw pybind11::error_already_set();
}

}  // namespace shadowsync::python
