// shadowsync.Dataset's C++ side: files through the data library, NumPy arrays in place or copied
// once (see data_binding.hpp).
#include "data_binding.hpp"

#include <cmath>
#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <pybind11/stl.h>
#include <tbb/parallel_for.h>

#include "errors.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/table_choice.hpp"
#include "shadowsync/data/feature_transform.hpp"

namespace py = pybind11;

namespace shadowsync::python {
namespace {

// One table size as given in rows_per_table= (`name` in errors): an integer in the range
// --rows-per-table allows.
uint32_t table_rows(const py::handle& value, const std::string& name) {
  if (py::isinstance<py::bool_>(value) || !PyIndex_Check(value.ptr())) {
    raise_python(ErrorKind::Value, fmt::format("{}: expected an integer, got {}", name,
                                               std::string(py::str(py::type::of(value)))));
  }
  const py::int_ number = py::reinterpret_steal<py::int_>(PyNumber_Index(value.ptr()));
  std::optional<uint64_t> rows;
  if (PyObject_RichCompareBool(number.ptr(), py::int_(0).ptr(), Py_GE) == 1 &&
      PyObject_RichCompareBool(number.ptr(), py::int_(HashingConfig::kMaxRowsPerTable).ptr(), Py_LE) == 1) {
    rows = number.cast<uint64_t>();
  }
  const std::string problem = rows_per_table_problem(rows, py::str(static_cast<const py::handle&>(number)).cast<std::string>());
  if (!problem.empty()) raise_python(ErrorKind::Value, name + ": " + problem);
  return static_cast<uint32_t>(*rows);
}

// rows_per_table= as given: None (nullopt), an integer (every table) or a sequence of one
// integer per table (tables of their own sizes, as `convert --table-rows-from` makes them).
std::optional<HashingConfig> given_hashing(const py::object& rows_per_table, uint64_t salt) {
  if (rows_per_table.is_none()) return std::nullopt;
  HashingConfig hashing = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, salt);
  if (py::isinstance<py::sequence>(rows_per_table) && !py::isinstance<py::str>(rows_per_table) &&
      !py::isinstance<py::bytes>(rows_per_table)) {
    const py::sequence tables = rows_per_table.cast<py::sequence>();
    if (tables.size() != kNumSparse) {
      raise_python(ErrorKind::Value, fmt::format("rows_per_table: expected an integer or {} integers (one per "
                                                 "table), got a sequence of {}", kNumSparse, tables.size()));
    }
    for (int t = 0; t < kNumSparse; ++t) {
      hashing.rows[t] = table_rows(tables[static_cast<size_t>(t)], fmt::format("rows_per_table[{}]", t));
    }
    return hashing;
  }
  return HashingConfig::uniform(table_rows(rows_per_table, "rows_per_table"), salt);
}

HashingConfig hashing_for(const py::object& rows_per_table, uint64_t salt) {
  return given_hashing(rows_per_table, salt).value_or(HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, salt));
}

// The rule of every front end (data::choose_hashing): rows_per_table when given (one size or one
// per table), else a cache's own hashing, else tables sized to the data, else the default.
HashingConfig resolve_hashing(const std::vector<std::string>& paths, const py::object& rows_per_table, uint64_t salt,
                              const ParseOptions& reading) {
  if (std::optional<HashingConfig> given = given_hashing(rows_per_table, salt)) return *given;
  try {
    py::gil_scoped_release release;
    return data::choose_hashing(paths, std::nullopt, salt, reading).hashing;
  } catch (const Error& e) {
    raise_python(ErrorKind::OS, e);
  }
}

py::array as_array(const py::object& value, const char* name, const char* expected) {
  if (py::isinstance<py::array>(value)) return py::reinterpret_borrow<py::array>(value);
  // Lists and other sequences: NumPy's own conversion (one copy), then the same checks.
  py::array converted = py::array::ensure(value);
  if (!converted) {
    raise_python(ErrorKind::Value, fmt::format("{}: expected {}, got {}", name, expected,
                                               std::string(py::str(py::type::of(value)))));
  }
  return converted;
}

std::string shape_text(const py::array& a) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) text += (d ? ", " : "") + std::to_string(a.shape(d));
  return text + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_text(const py::array& a) { return py::str(a.dtype()); }

void check_2d(const py::array& a, const char* name, py::ssize_t columns, const char* expected) {
  if (a.ndim() != 2 || a.shape(1) != columns) {
    raise_python(ErrorKind::Value, fmt::format("{}: expected {} of shape (n, {}), got shape {}", name, expected,
                                               columns, shape_text(a)));
  }
}

bool is_c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// Reads element (i, j) of a 2-D array of T through its strides (any layout, no copy).
template <typename T>
struct Strided2D {
  const char* base;
  py::ssize_t row_stride, col_stride;
  explicit Strided2D(const py::array& a)
      : base(static_cast<const char*>(a.data())), row_stride(a.strides(0)), col_stride(a.strides(1)) {}
  T operator()(size_t i, size_t j) const {
    T value;
    std::memcpy(&value, base + static_cast<py::ssize_t>(i) * row_stride + static_cast<py::ssize_t>(j) * col_stride,
                sizeof(T));
    return value;
  }
};

// Raw numeric values -> the parser's transform, log(1 + max(x, 0)); NaN (missing) -> 0.
// Returns the first bad (row, column) or -1.
template <typename T>
long long transform_numeric_rows(const py::array& a, float* out, size_t rows) {
  const Strided2D<T> at(a);
  const NumericTransform table;  // the parser's table for small integers (same values)
  std::atomic<long long> bad{-1};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, rows, 4096), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i) {
      for (size_t j = 0; j < static_cast<size_t>(kNumNumeric); ++j) {
        const double x = static_cast<double>(at(i, j));
        float value = 0.0f;
        if (x >= 0 && x < NumericTransform::kTableSize && x == std::floor(x)) {
          value = table(static_cast<int64_t>(x));
        } else if (std::isnan(x)) {
          value = 0.0f;
        } else if (!std::isfinite(x)) {
          long long expected = -1;
          const long long here = static_cast<long long>(i * kNumNumeric + j);
          while ((expected == -1 || here < expected) && !bad.compare_exchange_weak(expected, here)) {
          }
        } else if (x > 0) {
          value = static_cast<float>(std::log1p(x));
        }
        out[i * kNumNumeric + j] = value;
      }
    }
  });
  return bad.load();
}

// Raw ids -> table rows with the CLI's hasher. The rule for every dtype (integer or float): an
// id is a 32-bit value, 0 .. 2^32 - 1, as the TSV writes them in hex; negative (and NaN) =
// missing (row 0); anything else (above 2^32 - 1, infinite, not a whole number) is refused.
// Returns the first bad cell or -1.
template <typename T>
long long hash_rows(const py::array& a, const CategoryHasher& hasher, uint32_t* out, size_t rows) {
  const Strided2D<T> at(a);
  std::atomic<long long> bad{-1};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, rows, 4096), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i) {
      for (int t = 0; t < kNumSparse; ++t) {
        const T id = at(i, static_cast<size_t>(t));
        uint32_t row = kMissingRow;
        bool ok = true;
        if constexpr (std::is_floating_point_v<T>) {
          const double x = static_cast<double>(id);
          if (std::isnan(x) || (x < 0 && std::isfinite(x))) {
            row = kMissingRow;
          } else if (x <= 4294967295.0 && x == std::floor(x)) {
            row = hasher.row(t, static_cast<uint32_t>(x));
          } else {
            ok = false;
          }
        } else if constexpr (std::is_signed_v<T>) {
          if (id >= 0 && static_cast<uint64_t>(id) <= 0xFFFFFFFFull) row = hasher.row(t, static_cast<uint32_t>(id));
          else if (id >= 0) ok = false;
        } else {
          if (static_cast<uint64_t>(id) <= 0xFFFFFFFFull) row = hasher.row(t, static_cast<uint32_t>(id));
          else ok = false;
        }
        if (!ok) {
          long long expected = -1;
          const long long here = static_cast<long long>(i * kNumSparse + static_cast<size_t>(t));
          while ((expected == -1 || here < expected) && !bad.compare_exchange_weak(expected, here)) {
          }
          row = kMissingRow;
        }
        out[i * kNumSparse + static_cast<size_t>(t)] = row;
      }
    }
  });
  return bad.load();
}

// The value of cell (row, column) of a 2-D array as Python prints it (for messages).
std::string cell_text(const py::array& a, size_t row, size_t column) {
  return py::repr(a.attr("__getitem__")(py::make_tuple(row, column))).cast<std::string>();
}

// Already hashed rows: checked against the table sizes; copied (as uint32) when `out` is given.
template <typename T>
long long copy_hashed_rows(const py::array& a, const HashingConfig& hashing, uint32_t* out, size_t rows) {
  const Strided2D<T> at(a);
  std::atomic<long long> bad{-1};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, rows, 4096), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t i = r.begin(); i < r.end(); ++i) {
      for (int t = 0; t < kNumSparse; ++t) {
        const T v = at(i, static_cast<size_t>(t));
        bool ok = true;
        if constexpr (std::is_signed_v<T>) ok = v >= 0;
        ok = ok && static_cast<uint64_t>(v) < hashing.rows[static_cast<size_t>(t)];
        if (!ok) {
          long long expected = -1;
          const long long here = static_cast<long long>(i * kNumSparse + static_cast<size_t>(t));
          while ((expected == -1 || here < expected) && !bad.compare_exchange_weak(expected, here)) {
          }
        }
        if (out) out[i * kNumSparse + static_cast<size_t>(t)] = ok ? static_cast<uint32_t>(v) : 0;
      }
    }
  });
  return bad.load();
}

// Calls f.template operator()<T>() for the integer dtype of `a`; false if it is not one.
template <typename F>
bool with_integer_type(const py::array& a, F&& f) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  if (kind == 'i') {
    if (size == 1) return f(int8_t{}), true;
    if (size == 2) return f(int16_t{}), true;
    if (size == 4) return f(int32_t{}), true;
    if (size == 8) return f(int64_t{}), true;
  } else if (kind == 'u') {
    if (size == 1) return f(uint8_t{}), true;
    if (size == 2) return f(uint16_t{}), true;
    if (size == 4) return f(uint32_t{}), true;
    if (size == 8) return f(uint64_t{}), true;
  }
  return false;
}

}  // namespace

PyData PyData::from_paths(const std::vector<std::string>& paths, const py::object& rows_per_table,
                          uint64_t hash_salt, bool strict, bool keep_bad_lines, char delimiter) {
  if (paths.empty()) raise_python(ErrorKind::Value, "path: expected a path or a non-empty list of paths");
  PyData data;
  data.paths_ = paths;
  for (const std::string& path : paths) data.source_ += (data.source_.empty() ? "" : " + ") + path;
  ParseOptions options;
  options.strict = strict;
  options.delimiter = delimiter;
  options.keep_bad_lines = keep_bad_lines;
  options.hashing = resolve_hashing(paths, rows_per_table, hash_salt, options);
  data.hashing_ = options.hashing;
  try {
    py::gil_scoped_release release;
    ParseReport report;
    data.dataset_.emplace(Dataset::open_many(paths, options, &report));
    data.bad_rows_ = std::move(report.bad_rows);
  } catch (const Error& e) {
    raise_python(ErrorKind::OS, e);
  }
  data.parts_ = data.dataset_->parts();
  if (data.dataset_->files() == 1) data.view_ = data.dataset_->view();
  return data;
}

const DataView& PyData::joined() const {
  if (parts_.parts().size() <= 1) return view_;
  if (!joined_block_) {
    joined_block_ = std::make_unique<DataBlock>(parts_.copy(0, parts_.rows()));
    joined_view_ = joined_block_->view();
  }
  return joined_view_;
}

namespace {

// Distinct rows (besides row 0, missing) each table uses in `sparse` (rows x 26, hashed with
// `hashing`).
std::array<uint64_t, kNumSparse> used_rows(const uint32_t* sparse, size_t rows, const HashingConfig& hashing) {
  std::array<uint64_t, kNumSparse> used{};
  for (int t = 0; t < kNumSparse; ++t) {
    std::vector<bool> seen(hashing.rows[static_cast<size_t>(t)], false);
    for (size_t i = 0; i < rows; ++i) {
      const uint32_t row = sparse[i * kNumSparse + static_cast<size_t>(t)];
      if (row != 0 && !seen[row]) {
        seen[row] = true;
        ++used[static_cast<size_t>(t)];
      }
    }
  }
  return used;
}

}  // namespace

PyData PyData::from_arrays(py::object numeric_in, py::object categorical_in, py::object labels_in,
                           const py::object& rows_per_table, uint64_t hash_salt, bool hashed) {
  PyData data;
  data.source_ = "<arrays>";
  data.hashing_ = hashing_for(rows_per_table, hash_salt);
  py::array numeric = as_array(numeric_in, "numeric", "a float array of shape (n, 13)");
  py::array categorical = as_array(categorical_in, "categorical", "an integer array of shape (n, 26)");
  check_2d(numeric, "numeric", kNumNumeric, "a float array");
  check_2d(categorical, "categorical", kNumSparse, "an integer array");
  const size_t rows = static_cast<size_t>(numeric.shape(0));
  if (static_cast<size_t>(categorical.shape(0)) != rows) {
    raise_python(ErrorKind::Value, fmt::format("categorical: expected {} rows like numeric, got shape {}", rows,
                                               shape_text(categorical)));
  }
  const char numeric_kind = numeric.dtype().kind();
  if (numeric_kind != 'f' && numeric_kind != 'i' && numeric_kind != 'u') {
    raise_python(ErrorKind::Value,
                 fmt::format("numeric: expected a float array (float32, NaN = missing), got dtype {}", dtype_text(numeric)));
  }
  const char categorical_kind = categorical.dtype().kind();
  if (categorical_kind != 'i' && categorical_kind != 'u' && !(categorical_kind == 'f' && !hashed)) {
    raise_python(ErrorKind::Value,
                 fmt::format("categorical: {}, got dtype {}",
                             hashed ? "with hashed=True expected an integer array of table rows"
                                    : "expected an integer array of ids, or a float array of whole numbers "
                                      "(negative or NaN = missing)",
                             dtype_text(categorical)));
  }

  // Labels: float32 C-contiguous 0/1 in place; anything else numeric copied once as float32.
  py::array labels;
  if (!labels_in.is_none()) {
    labels = as_array(labels_in, "labels", "an array of 0/1 of shape (n,)");
    if (labels.ndim() != 1 || static_cast<size_t>(labels.shape(0)) != rows) {
      raise_python(ErrorKind::Value, fmt::format("labels: expected shape ({},) like numeric, got shape {}", rows,
                                                 shape_text(labels)));
    }
    const char kind = labels.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b') {
      raise_python(ErrorKind::Value, fmt::format("labels: expected 0/1 values, got dtype {}", dtype_text(labels)));
    }
    if (kind == 'f' && labels.dtype().itemsize() == 4 && is_c_contiguous(labels)) {
      data.keep_labels_ = labels;
      data.view_.labels = static_cast<const float*>(labels.data());
      ++data.zero_copy_;
    } else {
      py::array_t<float, py::array::forcecast> as_float(labels);
      data.labels_.reset(new float[rows]);
      std::memcpy(data.labels_.get(), as_float.data(), rows * sizeof(float));
      data.view_.labels = data.labels_.get();
    }
    for (size_t i = 0; i < rows; ++i) {
      const float y = data.view_.labels[i];
      if (y != 0.0f && y != 1.0f) {
        raise_python(ErrorKind::Value, fmt::format("labels: expected 0 or 1, got {} at row {}", y, i));
      }
    }
  } else {
    data.labels_.reset(new float[rows]());
    data.view_.labels = data.labels_.get();
  }

  // Numeric: always transformed (one pass from the caller's array, whatever its layout).
  data.numeric_.reset(new float[rows * kNumNumeric]);
  long long bad = -1;
  {
    py::gil_scoped_release release;
    const char kind = numeric.dtype().kind();
    const auto size = numeric.dtype().itemsize();
    if (kind == 'f' && size == 4) bad = transform_numeric_rows<float>(numeric, data.numeric_.get(), rows);
    else if (kind == 'f' && size == 8) bad = transform_numeric_rows<double>(numeric, data.numeric_.get(), rows);
    else if (kind == 'f') bad = -2;
    else with_integer_type(numeric, [&](auto t) { bad = transform_numeric_rows<decltype(t)>(numeric, data.numeric_.get(), rows); });
  }
  if (bad == -2) {
    raise_python(ErrorKind::Value,
                 fmt::format("numeric: expected a float array (float32, NaN = missing), got dtype {}", dtype_text(numeric)));
  }
  if (bad >= 0) {
    raise_python(ErrorKind::Value, fmt::format("numeric: row {}, column {}: infinite value (NaN is missing)",
                                               bad / kNumNumeric, bad % kNumNumeric));
  }
  data.view_.numeric = data.numeric_.get();

  // Categorical.
  if (hashed) {
    const bool in_place = categorical.dtype().kind() == 'u' && categorical.dtype().itemsize() == 4 &&
                          is_c_contiguous(categorical);
    if (!in_place) data.sparse_.reset(new uint32_t[rows * kNumSparse]);
    {
      py::gil_scoped_release release;
      with_integer_type(categorical, [&](auto t) {
        bad = copy_hashed_rows<decltype(t)>(categorical, data.hashing_, data.sparse_.get(), rows);
      });
    }
    if (bad >= 0) {
      const size_t t = static_cast<size_t>(bad % kNumSparse);
      raise_python(ErrorKind::Value,
                   fmt::format("categorical: row {}, column {}: with hashed=True expected a table row in [0, {}) "
                               "(rows_per_table)", bad / kNumSparse, t, data.hashing_.rows[t]));
    }
    if (in_place) {
      data.keep_sparse_ = categorical;
      data.view_.sparse = static_cast<const uint32_t*>(categorical.data());
      ++data.zero_copy_;
    } else {
      data.view_.sparse = data.sparse_.get();
    }
  } else {
    data.sparse_.reset(new uint32_t[rows * kNumSparse]);
    const CategoryHasher hasher(data.hashing_);
    {
      py::gil_scoped_release release;
      const char kind = categorical.dtype().kind();
      const auto size = categorical.dtype().itemsize();
      if (kind == 'f' && size == 4) bad = hash_rows<float>(categorical, hasher, data.sparse_.get(), rows);
      else if (kind == 'f' && size == 8) bad = hash_rows<double>(categorical, hasher, data.sparse_.get(), rows);
      else if (kind == 'f') bad = -2;
      else with_integer_type(categorical, [&](auto t) {
        bad = hash_rows<decltype(t)>(categorical, hasher, data.sparse_.get(), rows);
      });
    }
    if (bad == -2) {
      raise_python(ErrorKind::Value, fmt::format("categorical: expected float32 or float64 ids, got dtype {}",
                                                 dtype_text(categorical)));
    }
    if (bad >= 0) {
      const size_t row = static_cast<size_t>(bad / kNumSparse), column = static_cast<size_t>(bad % kNumSparse);
      raise_python(ErrorKind::Value,
                   fmt::format("categorical: column {}, row {}: id {} is not a 32-bit id (ids are whole numbers "
                               "0 .. 2^32 - 1; negative or NaN = missing)",
                               column, row, cell_text(categorical, row, column)));
    }
    data.view_.sparse = data.sparse_.get();
    // rows_per_table=None: tables sized to the data, as for files (data::choose_hashing): the
    // rows used at the default size, then the ids hashed again into the sized tables.
    if (rows_per_table.is_none()) {
      const HashingConfig sized = tables_sized_for(used_rows(data.sparse_.get(), rows, data.hashing_), data.hashing_);
      if (sized != data.hashing_) {
        data.hashing_ = sized;
        const CategoryHasher sized_hasher(data.hashing_);
        py::gil_scoped_release release;
        with_integer_type(categorical, [&](auto t) {
          bad = hash_rows<decltype(t)>(categorical, sized_hasher, data.sparse_.get(), rows);
        });
      }
    }
  }
  data.view_.rows = rows;
  data.parts_ = DataParts(data.view_);
  return data;
}

namespace {

// A read-only NumPy view of `count` values at `data`, kept alive by `owner`.
template <typename T>
py::array column_view(const T* data, std::vector<py::ssize_t> shape, py::handle owner) {
  py::array_t<T> a(shape, data, owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace

void bind_data(py::module_& m) {
  py::class_<PyData>(m, "_Data", "Examples as the engine reads them (use shadowsync.Dataset).")
      .def_static("from_paths", &PyData::from_paths, py::arg("paths"), py::arg("rows_per_table") = py::none(),
                  py::arg("hash_salt") = 0, py::arg("strict") = false, py::arg("keep_bad_lines") = false,
                  py::arg("delimiter") = '\t')
      .def_static("from_arrays", &PyData::from_arrays, py::arg("numeric"), py::arg("categorical"),
                  py::arg("labels") = py::none(), py::arg("rows_per_table") = py::none(), py::arg("hash_salt") = 0,
                  py::arg("hashed") = false)
      .def_property_readonly("rows", &PyData::rows)
      .def_property_readonly("files", [](const PyData& d) { return d.paths().size(); })
      .def_property_readonly("source", &PyData::source)
      .def_property_readonly("is_cache", &PyData::is_cache)
      .def_property_readonly("bad_rows", [](const PyData& d) {
        const std::vector<uint64_t>& rows = d.bad_rows();
        py::array_t<int64_t> out(static_cast<py::ssize_t>(rows.size()));
        std::copy(rows.begin(), rows.end(), out.mutable_data());
        return out;
      })
      .def_property_readonly("zero_copy_arrays", &PyData::zero_copy_arrays)
      .def_property_readonly("rows_per_table", [](const PyData& d) {
        py::list rows;
        for (uint32_t r : d.hashing().rows) rows.append(r);
        return rows;
      })
      .def_property_readonly("hash_salt", [](const PyData& d) { return d.hashing().salt; })
      .def_property_readonly("labels", [](py::object self) {
        const PyData& d = self.cast<const PyData&>();
        const DataView& v = d.joined();
        return column_view(v.labels, {static_cast<py::ssize_t>(v.rows)}, self);
      })
      .def_property_readonly("numeric", [](py::object self) {
        const PyData& d = self.cast<const PyData&>();
        const DataView& v = d.joined();
        return column_view(v.numeric, {static_cast<py::ssize_t>(v.rows), kNumNumeric}, self);
      })
      .def_property_readonly("categorical", [](py::object self) {
        const PyData& d = self.cast<const PyData&>();
        const DataView& v = d.joined();
        return column_view(v.sparse, {static_cast<py::ssize_t>(v.rows), kNumSparse}, self);
      });
}

}  // namespace shadowsync::python
