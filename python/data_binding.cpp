// shadowsync.Dataset's C++ side: files through the data library, NumPy arrays in place or copied
// once (see data_binding.hpp).
#include "data_binding.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pybind11/stl.h>
#include <tbb/parallel_for.h>

#include "errors.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/table_choice.hpp"
#include "shadowsync/data/feature_transform.hpp"
#include "shadowsync/data/schema_request.hpp"

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

// rows_per_table= as given: None (nullopt), an integer (every table, except the tables a schema
// column asks a size for: SchemaColumn::rows, as the CLI) or a sequence of one integer per table
// of the schema (tables of their own sizes, as `convert --table-rows-from` makes them).
std::optional<HashingConfig> given_hashing(const py::object& rows_per_table, uint64_t salt,
                                           const FeatureSchema& schema = FeatureSchema::criteo()) {
  if (rows_per_table.is_none()) return std::nullopt;
  const int tables = schema.table_count();
  HashingConfig hashing = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, salt, tables);
  if (py::isinstance<py::sequence>(rows_per_table) && !py::isinstance<py::str>(rows_per_table) &&
      !py::isinstance<py::bytes>(rows_per_table)) {
    const py::sequence given = rows_per_table.cast<py::sequence>();
    if (given.size() != static_cast<size_t>(tables)) {
      raise_python(ErrorKind::Value, fmt::format("rows_per_table: expected an integer or {} integers (one per "
                                                 "table), got a sequence of {}", tables, given.size()));
    }
    for (int t = 0; t < tables; ++t) {
      hashing.rows[static_cast<size_t>(t)] = table_rows(given[static_cast<size_t>(t)], fmt::format("rows_per_table[{}]", t));
    }
    return hashing;
  }
  return shadowsync::hashing_for(schema, table_rows(rows_per_table, "rows_per_table"), salt);
}

HashingConfig hashing_for(const py::object& rows_per_table, uint64_t salt) {
  return given_hashing(rows_per_table, salt).value_or(HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, salt));
}

// The rule of every front end (data::choose_hashing): rows_per_table when given (one size or one
// per table), else a cache's own hashing, else tables sized to the data, else the default.
HashingConfig resolve_hashing(const std::vector<std::string>& paths, const py::object& rows_per_table, uint64_t salt,
                              const ParseOptions& reading) {
  if (std::optional<HashingConfig> given = given_hashing(rows_per_table, salt, reading.schema)) return *given;
  HashingConfig chosen;
  try {
    py::gil_scoped_release release;
    chosen = data::choose_hashing(paths, std::nullopt, salt, reading).hashing;
  } catch (const Error& e) {
    raise_python(ErrorKind::OS, e);
  }
  // As the CLI: tables of the schema's count at the default size when the choice is of another.
  if (chosen.tables() != reading.schema.table_count()) {
    chosen = shadowsync::hashing_for(reading.schema, HashingConfig::kDefaultRowsPerTable, salt);
  }
  return chosen;
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
                          uint64_t hash_salt, bool strict, bool keep_bad_lines, char delimiter,
                          const std::optional<FeatureSchema>& schema) {
  if (paths.empty()) raise_python(ErrorKind::Value, "path: expected a path or a non-empty list of paths");
  PyData data;
  data.paths_ = paths;
  for (const std::string& path : paths) data.source_ += (data.source_.empty() ? "" : " + ") + path;
  ParseOptions options;
  options.strict = strict;
  options.delimiter = delimiter;
  options.keep_bad_lines = keep_bad_lines;
  if (schema) options.schema = *schema;
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
  data.schema_ = data.dataset_->schema();
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

// A C-contiguous array of T with `ndim` dimensions from shadowsync.Dataset's prepared columns
// (the Python side converts; a wrong shape here is a ValueError naming `name`).
template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> prepared(const py::object& value, const char* name,
                                                                     py::ssize_t ndim) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(value);
  if (!a || a.ndim() != ndim) {
    raise_python(ErrorKind::Value, fmt::format("{}: expected a {}-D array", name, ndim));
  }
  return a;
}

}  // namespace

PyData PyData::from_columns(const FeatureSchema& schema, py::object labels_in, py::object numeric_in,
                            py::object categorical_in, py::object offsets_in, py::object ids_in,
                            const py::object& rows_per_table, uint64_t hash_salt) {
  try {
    schema.validate("schema");
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
  const FeatureWidths widths{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
  const auto numeric = prepared<double>(numeric_in, "numeric", 2);
  const auto categorical = prepared<int64_t>(categorical_in, "categorical", 2);
  const auto offsets = prepared<int64_t>(offsets_in, "bag_offsets", 1);
  const auto ids = prepared<int64_t>(ids_in, "bag_ids", 1);
  const size_t rows = static_cast<size_t>(numeric.shape(0));
  if (numeric.shape(1) != widths.numeric || static_cast<size_t>(categorical.shape(0)) != rows ||
      categorical.shape(1) != widths.sparse ||
      static_cast<size_t>(offsets.shape(0)) != rows * static_cast<size_t>(widths.multi_hot) + 1) {
    raise_python(ErrorKind::Value,
                 fmt::format("columns: expected {} rows of {} numeric, {} categorical and {} multi-hot features "
                             "(the schema's)", rows, widths.numeric, widths.sparse, widths.multi_hot));
  }
  const int64_t* off = offsets.data();
  const size_t id_count = static_cast<size_t>(ids.shape(0));
  if (off[0] != 0 || static_cast<size_t>(off[offsets.shape(0) - 1]) != id_count) {
    raise_python(ErrorKind::Value, "bag_offsets: expected offsets from 0 to the number of bag_ids");
  }
  for (py::ssize_t k = 1; k < offsets.shape(0); ++k) {
    if (off[k] < off[k - 1]) raise_python(ErrorKind::Value, "bag_offsets: expected non-decreasing offsets");
  }

  PyData data;
  data.source_ = "<columns>";
  data.schema_ = schema;
  data.block_ = std::make_unique<DataBlock>(rows, widths);
  DataBlock& block = *data.block_;

  // Labels: 0/1 or None (all 0, for prediction).
  if (!labels_in.is_none()) {
    const auto labels = prepared<float>(labels_in, "labels", 1);
    if (static_cast<size_t>(labels.shape(0)) != rows) {
      raise_python(ErrorKind::Value, fmt::format("labels: expected {} labels, got {}", rows, labels.shape(0)));
    }
    for (size_t i = 0; i < rows; ++i) {
      const float y = labels.data()[i];
      if (y != 0.0f && y != 1.0f) raise_python(ErrorKind::Value, fmt::format("labels: expected 0 or 1, got {} at row {}", y, i));
      block.labels()[i] = y;
    }
  }

  // Numeric: the reader's transform of each column.
  const NumericTransform log1p_table;
  for (int j = 0; j < widths.numeric; ++j) {
    const SchemaColumn& column = schema.columns[static_cast<size_t>(schema.numeric_column(j))];
    const bool identity = column.transform == NumericTransformKind::Identity;
    for (size_t i = 0; i < rows; ++i) {
      const double x = numeric.data()[i * static_cast<size_t>(widths.numeric) + static_cast<size_t>(j)];
      float value = 0.0f;
      if (std::isnan(x)) {
        value = 0.0f;
      } else if (identity) {
        if (!(std::fabs(x) < 1e30)) {
          raise_python(ErrorKind::Value, fmt::format("numeric column {}: row {}: {} is not a finite number below "
                                                     "1e30 in magnitude (NaN is missing)", column.name, i, x));
        }
        value = static_cast<float>(x);
      } else {
        if (!std::isfinite(x) || x != std::floor(x) || std::fabs(x) > 9.2e18) {
          raise_python(ErrorKind::Value,
                       fmt::format("numeric column {}: row {}: {} is not a whole number (a log1p column reads "
                                   "integers; give the column transform \"identity\" for decimals)", column.name, i, x));
        }
        value = log1p_table(static_cast<int64_t>(x));
      }
      block.numeric()[i * static_cast<size_t>(widths.numeric) + static_cast<size_t>(j)] = value;
    }
  }

  // Ids: 32-bit values, -1 = missing (categorical only; an id in a list is never missing).
  const auto check_id = [&](int64_t id, bool in_list, int t, size_t where) {
    if ((id < 0 && (in_list || id != -1)) || id > 0xFFFFFFFFll) {
      raise_python(ErrorKind::Value, fmt::format("{} {}: {} {}: id {} is not a 32-bit id", in_list ? "multi_hot" : "categorical",
                                                 schema.table_name(t), in_list ? "item" : "row", where, id));
    }
  };
  for (size_t i = 0; i < rows; ++i) {
    for (int t = 0; t < widths.sparse; ++t) check_id(categorical.data()[i * static_cast<size_t>(widths.sparse) + static_cast<size_t>(t)], false, t, i);
  }
  block.bag_offsets().assign(off, off + offsets.shape(0));
  block.bag_ids().resize(id_count);
  for (size_t i = 0; i < rows; ++i) {
    for (int m = 0; m < widths.multi_hot; ++m) {
      const size_t k = i * static_cast<size_t>(widths.multi_hot) + static_cast<size_t>(m);
      for (int64_t p = off[k]; p < off[k + 1]; ++p) check_id(ids.data()[p], true, widths.sparse + m, static_cast<size_t>(p));
    }
  }
  const auto hash_all = [&](const HashingConfig& hashing) {
    const CategoryHasher hasher(hashing);
    for (size_t i = 0; i < rows; ++i) {
      for (int t = 0; t < widths.sparse; ++t) {
        const size_t k = i * static_cast<size_t>(widths.sparse) + static_cast<size_t>(t);
        const int64_t id = categorical.data()[k];
        block.sparse()[k] = id < 0 ? kMissingRow : hasher.row(t, static_cast<uint32_t>(id));
      }
      for (int m = 0; m < widths.multi_hot; ++m) {
        const size_t k = i * static_cast<size_t>(widths.multi_hot) + static_cast<size_t>(m);
        for (int64_t p = off[k]; p < off[k + 1]; ++p) {
          block.bag_ids()[static_cast<size_t>(p)] = hasher.row(widths.sparse + m, static_cast<uint32_t>(ids.data()[p]));
        }
      }
    }
  };
  const int tables = widths.tables();
  data.hashing_ = given_hashing(rows_per_table, hash_salt, schema)
                      .value_or(shadowsync::hashing_for(schema, HashingConfig::kDefaultRowsPerTable, hash_salt));
  hash_all(data.hashing_);
  // rows_per_table=None: tables sized to the data, as for files (data::choose_hashing).
  if (rows_per_table.is_none() && tables > 0) {
    std::vector<uint64_t> used(static_cast<size_t>(tables), 0);
    for (int t = 0; t < tables; ++t) {
      std::vector<bool> seen(data.hashing_.rows[static_cast<size_t>(t)], false);
      const auto see = [&](uint32_t row) {
        if (row != kMissingRow && !seen[row]) {
          seen[row] = true;
          ++used[static_cast<size_t>(t)];
        }
      };
      if (t < widths.sparse) {
        for (size_t i = 0; i < rows; ++i) see(block.sparse()[i * static_cast<size_t>(widths.sparse) + static_cast<size_t>(t)]);
      } else {
        const int m = t - widths.sparse;
        for (size_t i = 0; i < rows; ++i) {
          const size_t k = i * static_cast<size_t>(widths.multi_hot) + static_cast<size_t>(m);
          for (int64_t p = off[k]; p < off[k + 1]; ++p) see(block.bag_ids()[static_cast<size_t>(p)]);
        }
      }
    }
    const HashingConfig sized = tables_sized_for(used, data.hashing_);
    if (sized != data.hashing_) {
      data.hashing_ = sized;
      hash_all(data.hashing_);
    }
  }
  data.view_ = block.view();
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

// A schema from its JSON text (shadowsync.Dataset writes it from the keywords); ValueError naming
// the field when it is not one.
FeatureSchema schema_from_text(const std::string& text) {
  try {
    return FeatureSchema::from_json(nlohmann::json::parse(text), "schema");
  } catch (const nlohmann::json::exception& e) {
    raise_python(ErrorKind::Value, std::string("schema: not JSON: ") + e.what());
  } catch (const Error& e) {
    raise_python(ErrorKind::Value, e);
  }
}

// A copy of the multi-hot lists of a view, offsets from 0 (the view may be a slice of a block).
std::pair<py::array, py::array> bags_of(const DataView& v) {
  const size_t entries = v.rows * static_cast<size_t>(v.multi_hot) + 1;
  py::array_t<uint64_t> offsets(static_cast<py::ssize_t>(entries));
  const uint64_t first = v.multi_hot ? v.bag_offsets[0] : 0;
  for (size_t k = 0; k < entries; ++k) offsets.mutable_data()[k] = v.multi_hot ? v.bag_offsets[k] - first : 0;
  const size_t count = offsets.data()[entries - 1];
  py::array_t<uint32_t> ids(static_cast<py::ssize_t>(count));
  if (count) std::memcpy(ids.mutable_data(), v.bag_ids + first, count * sizeof(uint32_t));
  return {offsets, ids};
}

}  // namespace

void bind_data(py::module_& m) {
  m.def("_criteo_schema", [] { return FeatureSchema::criteo().to_json().dump(); });
  // The schema the keywords state (SchemaRequest: one rule and message with the command line's
  // --label, --numeric, ...), as JSON text: for files `paths` (a cache's stored schema when the
  // first file is one), or for the columns `names` of a frame (named as by a header). Errors
  // naming a keyword: ValueError; others (a file that cannot be read): OSError.
  m.def("_schema_request", [](const std::vector<std::string>& paths, const std::optional<std::vector<std::string>>& names,
                              char delimiter, bool header, const std::optional<std::string>& label,
                              const std::vector<std::string>& numeric, const std::vector<std::string>& categorical,
                              const std::vector<std::string>& multi_hot, const std::vector<std::string>& ignore,
                              const std::string& schema_file, std::optional<bool> hex_ids) {
    SchemaRequest request;
    request.hex_ids = hex_ids;
    request.header = header || names.has_value();
    request.label = label;
    request.numeric = numeric;
    request.categorical = categorical;
    request.multi_hot = multi_hot;
    request.ignore = ignore;
    request.schema_file = schema_file;
    try {
      if (names) return resolve_schema(request, names, static_cast<int>(names->size())).to_json().dump();
      return schema_for_data(request, paths, delimiter).to_json().dump();
    } catch (const Error& e) {
      // A message naming a keyword (label=, header=, ...) is about the statement: ValueError;
      // otherwise a file could not be read: OSError.
      bool names_field = false;
      e.message([&](std::string_view name) {
        names_field = true;
        return std::string(name);
      });
      raise_python(names_field ? ErrorKind::Value : ErrorKind::OS, e);
    }
  }, py::arg("paths"), py::arg("names"), py::arg("delimiter"), py::arg("header"), py::arg("label"), py::arg("numeric"),
     py::arg("categorical"), py::arg("multi_hot"), py::arg("ignore"), py::arg("schema_file"), py::arg("hex_ids"));
  // The 32-bit id of each string as the reader turns a categorical string into one (string_id,
  // feature_transform.hpp; schemas without hex_ids), uint32 [n].
  m.def("_string_ids", [](const std::vector<std::string>& values) {
    py::array_t<uint32_t> out(static_cast<py::ssize_t>(values.size()));
    for (size_t i = 0; i < values.size(); ++i) out.mutable_data()[i] = string_id(values[i]);
    return out;
  }, py::arg("values"));
  py::class_<PyData>(m, "_Data", "Examples as the engine reads them (use shadowsync.Dataset).")
      .def_static("from_paths", &PyData::from_paths, py::arg("paths"), py::arg("rows_per_table") = py::none(),
                  py::arg("hash_salt") = 0, py::arg("strict") = false, py::arg("keep_bad_lines") = false,
                  py::arg("delimiter") = '\t', py::arg("schema") = py::none())
      .def_static("from_paths_with_schema", [](const std::vector<std::string>& paths, const py::object& rows_per_table,
                                                uint64_t hash_salt, bool strict, bool keep_bad_lines, char delimiter,
                                                const std::string& schema) {
        return PyData::from_paths(paths, rows_per_table, hash_salt, strict, keep_bad_lines, delimiter,
                                  schema_from_text(schema));
      }, py::arg("paths"), py::arg("rows_per_table"), py::arg("hash_salt"), py::arg("strict"),
         py::arg("keep_bad_lines"), py::arg("delimiter"), py::arg("schema"))
      .def_static("from_columns", [](const std::string& schema, py::object labels, py::object numeric,
                                     py::object categorical, py::object bag_offsets, py::object bag_ids,
                                     const py::object& rows_per_table, uint64_t hash_salt) {
        return PyData::from_columns(schema_from_text(schema), labels, numeric, categorical, bag_offsets, bag_ids,
                                    rows_per_table, hash_salt);
      }, py::arg("schema"), py::arg("labels"), py::arg("numeric"), py::arg("categorical"), py::arg("bag_offsets"),
         py::arg("bag_ids"), py::arg("rows_per_table") = py::none(), py::arg("hash_salt") = 0)
      .def_property_readonly("schema", [](const PyData& d) { return d.schema().to_json().dump(); })
      .def_property_readonly("bag_offsets", [](const PyData& d) { return bags_of(d.joined()).first; })
      .def_property_readonly("bag_ids", [](const PyData& d) { return bags_of(d.joined()).second; })
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
        return column_view(v.numeric, {static_cast<py::ssize_t>(v.rows), v.numeric_width}, self);
      })
      .def_property_readonly("categorical", [](py::object self) {
        const PyData& d = self.cast<const PyData&>();
        const DataView& v = d.joined();
        return column_view(v.sparse, {static_cast<py::ssize_t>(v.rows), v.sparse_width}, self);
      });
}

}  // namespace shadowsync::python
