// The run option table (shadowsync/train/run_options.hpp) on the Python side: a keyword's value
// read into the table's OptionValue, checked once with the table's message ("batch= expects an
// integer in [1, 1048576], got 0"), and the table exported for train()'s keywords and docstring.
#pragma once

#include <pybind11/pybind11.h>

#include "shadowsync/train/run_options.hpp"

namespace shadowsync::python {

// Sets option `name` of `settings` from a Python value (ValueError naming the keyword when the
// type or range is wrong; TypeError for an option Python does not offer).
void set_from_python(RunSettings& settings, const std::string& name, const pybind11::handle& value);

// _run_options() (the table as a list of dicts) and _check_option(name, value) (the value
// checked and normalized, e.g. delimiter "tab" -> "\t").
void bind_run_options(pybind11::module_& m);

}  // namespace shadowsync::python
