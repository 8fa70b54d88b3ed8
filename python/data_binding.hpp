// PyData: the examples one shadowsync.Dataset holds, as the DataView the engine reads; either a
// file opened through the data library (TSV or binary cache) or NumPy arrays (kept alive here,
// used without a copy where their dtype and layout allow).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::python {

class PyData {
 public:
  // A TSV or cache, with the CLI's hashing rule: rows_per_table / hash_salt when given, else the
  // cache's stored hashing, else the default. Errors: OSError (file), ValueError (options).
  static PyData from_path(const std::string& path, std::optional<uint64_t> rows_per_table,
                          uint64_t hash_salt, bool strict);
  // numeric float [n, 13] raw values (NaN = missing; transformed as the parser does);
  // categorical integers [n, 26]: raw 32-bit ids (as the TSV's hex values; negative = missing),
  // hashed here with CategoryHasher(rows_per_table, hash_salt), or with hashed=true already table
  // rows (uint32, used without a copy when C-contiguous); labels [n] of 0/1 (float32
  // C-contiguous: no copy) or None (all 0, for prediction). ValueError names the argument.
  static PyData from_arrays(pybind11::object numeric, pybind11::object categorical,
                            pybind11::object labels, std::optional<uint64_t> rows_per_table,
                            uint64_t hash_salt, bool hashed);

  const DataView& view() const { return view_; }
  const HashingConfig& hashing() const { return hashing_; }
  const std::string& source() const { return source_; }
  bool is_cache() const { return dataset_ && dataset_->is_cache(); }
  // How many of the three arrays were used without a copy (for tests and the benchmark).
  int zero_copy_arrays() const { return zero_copy_; }

 private:
  std::string source_;
  HashingConfig hashing_;
  DataView view_;
  std::optional<Dataset> dataset_;  // from a path
  // Columns copied or transformed from arrays (empty when used in place).
  std::unique_ptr<float[]> labels_, numeric_;
  std::unique_ptr<uint32_t[]> sparse_;
  pybind11::object keep_labels_, keep_sparse_;  // arrays used in place
  int zero_copy_ = 0;
};

void bind_data(pybind11::module_& m);

}  // namespace shadowsync::python
