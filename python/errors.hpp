// How shadowsync errors reach Python: a field is spelled as its keyword (batch=), and the
// exception type says what went wrong (ValueError for arguments, OSError for files,
// RuntimeError for a diverged or failed run).
#pragma once

#include <string>

#include <pybind11/pybind11.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync::python {

enum class ErrorKind { Value, Type, OS, Runtime };

// The message of `e` with fields spelled as Python keywords ("batch=").
std::string python_message(const Error& e);

// Sets the Python exception of `kind` with `message` and throws error_already_set.
[[noreturn]] void raise_python(ErrorKind kind, const std::string& message);
[[noreturn]] inline void raise_python(ErrorKind kind, const Error& e) { raise_python(kind, python_message(e)); }

}  // namespace shadowsync::python
