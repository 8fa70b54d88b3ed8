// Python values through the run option table (see run_options_binding.hpp).
#include "run_options_binding.hpp"

#include <string>

#include <fmt/format.h>
#include <pybind11/stl.h>

#include "errors.hpp"

namespace py = pybind11;

namespace shadowsync::python {
namespace {

// A Python value as the table reads it; nullopt for a type no option takes (refused by the table
// with the value's repr). Integers are int or any integer type (NumPy's), reals float or NumPy's.
std::optional<OptionValue> option_value(const py::handle& value) {
  if (py::isinstance<py::bool_>(value)) return OptionValue(value.cast<bool>());
  if (PyIndex_Check(value.ptr())) {
    const py::int_ number = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
    if (!number) {
      PyErr_Clear();
      return std::nullopt;
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(number.ptr(), &overflow);
    if (overflow == 0) return v < 0 ? OptionValue(static_cast<int64_t>(v)) : OptionValue(static_cast<uint64_t>(v));
    if (overflow > 0) {
      const unsigned long long u = PyLong_AsUnsignedLongLong(number.ptr());
      if (!PyErr_Occurred()) return OptionValue(static_cast<uint64_t>(u));
      PyErr_Clear();
    }
    return std::nullopt;  // beyond 64 bits: out of every range
  }
  if (py::isinstance<py::float_>(value) ||
      (!py::isinstance<py::str>(value) && py::hasattr(value, "dtype") && py::hasattr(value, "__float__"))) {
    try {
      return OptionValue(py::cast<double>(value.attr("__float__")()));
    } catch (const py::error_already_set&) {
      return std::nullopt;  // an array of several values
    }
  }
  if (py::isinstance<py::str>(value)) return OptionValue(value.cast<std::string>());
  return std::nullopt;
}

const RunOption& python_option(const std::string& name) {
  const RunOption* option = find_run_option(name);
  if (option == nullptr || !option->offered_by(kPython)) {
    raise_python(ErrorKind::Type, fmt::format("train() got an unexpected keyword argument '{}'", name));
  }
  return *option;
}

// The value `option` takes from `value`, checked (Error naming the option otherwise).
OptionValue checked(const RunOption& option, const py::handle& value) {
  const std::string shown = py::repr(value);
  const std::optional<OptionValue> v = option_value(value);
  if (!v) option.refuse(shown);
  return option.check(*v, shown);
}

const char* type_name(OptionType type) {
  switch (type) {
    case OptionType::Flag: return "bool";
    case OptionType::Integer: return "int";
    case OptionType::Real: return "float";
    case OptionType::Text: return "str";
    case OptionType::Choice: return "choice";
    case OptionType::AutoOrInteger: return "auto|int";
    case OptionType::Byte: return "byte";
    case OptionType::Callback: return "callable";
  }
  return "?";
}

}  // namespace

void set_from_python(RunSettings& settings, const std::string& name, const py::handle& value) {
  const RunOption& option = python_option(name);
  try {
    settings.set(name, checked(option, value), py::repr(value).cast<std::string>());
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
}

void bind_run_options(py::module_& m) {
  m.def("_run_options", [] {
    py::list out;
    for (const RunOption& o : run_options()) {
      py::dict d;
      d["name"] = o.name;
      d["type"] = type_name(o.type);
      d["layer"] = layer_name(o.layer);
      py::list front_ends;
      if (o.offered_by(kCli)) front_ends.append("cli");
      if (o.offered_by(kPython)) front_ends.append("python");
      if (o.offered_by(kMpi)) front_ends.append("mpi");
      d["front_ends"] = front_ends;
      d["default"] = o.default_text;
      d["expected"] = o.expected();
      d["help"] = spell_fields(o.help, [](std::string_view f) { return std::string(f) + "="; });
      out.append(d);
    }
    return out;
  });
  m.def("_check_option", [](const std::string& name, const py::handle& value) -> py::object {
    const RunOption& option = python_option(name);
    try {
      const OptionValue v = checked(option, value);
      return std::visit([](const auto& x) { return py::cast(x); }, v);
    } catch (const Error& e) {
      raise_python(ErrorKind::Value, e);
    }
  });
}

}  // namespace shadowsync::python
