// PyData: the examples one shadowsync.Dataset holds, as the DataParts the engine reads; either
// files opened through the data library (TSVs or binary caches, several read in order without
// being joined) or NumPy arrays (kept alive here, used without a copy where their dtype and
// layout allow).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync::python {

class PyData {
 public:
  // A TSV or cache, with the CLI's hashing rule: rows_per_table / hash_salt when given, else the
  // cache's stored hashing, else the default. Errors: OSError (file), ValueError (options).
  // Several paths: their rows in order, as Dataset::open_many (the hashing rule applied to the
  // first; caches must all have that hashing).
  // keep_bad_lines (predict's bad_rows="nan"; not with strict): each bad line keeps its place as
  // a placeholder row, listed by bad_rows(), so rows and data lines align. delimiter: the byte
  // between the fields of text files (checked by the caller, through the run option table).
  // schema: the columns of the files (Criteo's layout when nullopt; a cache's stored schema must
  // equal it).
  static PyData from_paths(const std::vector<std::string>& paths, const pybind11::object& rows_per_table,
                           uint64_t hash_salt, bool strict, bool keep_bad_lines = false, char delimiter = '\t',
                           const std::optional<FeatureSchema>& schema = std::nullopt);
  // Rows of any schema from columns prepared by shadowsync.Dataset (one copy into a DataBlock of
  // the schema's FeatureWidths): numeric float64 [n, N] raw values (NaN = missing), transformed
  // per column as the reader does (log1p columns: whole numbers, log(1 + max(x, 0)); identity
  // columns: finite, |x| < 1e30, as is); categorical int64 [n, S] 32-bit ids (-1 = missing), the
  // values the reader hashes (string_id of a string, or a hexadecimal id); bag_offsets int64
  // [n * M + 1] into bag_ids int64 (32-bit ids of the multi-hot lists, row-major as in
  // DataView). Ids are hashed with CategoryHasher into table t (multi-hot m: table S + m), into
  // tables sized to the data as for files when rows_per_table is None.
  static PyData from_columns(const FeatureSchema& schema, pybind11::object labels, pybind11::object numeric,
                             pybind11::object categorical, pybind11::object bag_offsets,
                             pybind11::object bag_ids, const pybind11::object& rows_per_table, uint64_t hash_salt);
  // numeric float [n, 13] raw values (NaN = missing; transformed as the parser does);
  // categorical integers [n, 26]: raw 32-bit ids (as the TSV's hex values; negative = missing),
  // hashed here with CategoryHasher(rows_per_table, hash_salt), or with hashed=true already table
  // rows (uint32, used without a copy when C-contiguous); labels [n] of 0/1 (float32
  // C-contiguous: no copy) or None (all 0, for prediction). ValueError names the argument.
  static PyData from_arrays(pybind11::object numeric, pybind11::object categorical,
                            pybind11::object labels, const pybind11::object& rows_per_table,
                            uint64_t hash_salt, bool hashed);

  // Every row, in order (several files: their views, not copied).
  const DataParts& parts() const { return parts_; }
  size_t rows() const { return parts_.rows(); }
  // Every row as one view: the file's or the arrays' own; for several files a copy that joins
  // them, made on first use and kept (the labels / numeric / categorical arrays).
  const DataView& joined() const;
  const HashingConfig& hashing() const { return hashing_; }
  // The columns the rows were read with (a cache's stored schema; Criteo's for from_arrays).
  const FeatureSchema& schema() const { return schema_; }
  // The path, "a + b" for several, or "<arrays>".
  const std::string& source() const { return source_; }
  const std::vector<std::string>& paths() const { return paths_; }  // empty for arrays
  bool is_cache() const { return dataset_ && dataset_->is_cache(); }
  // The placeholder rows of bad lines (from_paths with keep_bad_lines), in order.
  const std::vector<uint64_t>& bad_rows() const { return bad_rows_; }
  // How many of the three arrays were used without a copy (for tests and the benchmark).
  int zero_copy_arrays() const { return zero_copy_; }

 private:
  std::string source_;
  std::vector<std::string> paths_;
  HashingConfig hashing_;
  FeatureSchema schema_ = FeatureSchema::criteo();
  std::unique_ptr<DataBlock> block_;  // from_columns
  DataView view_;  // one file or the arrays (empty for several files)
  DataParts parts_;
  mutable std::unique_ptr<DataBlock> joined_block_;  // several files: joined() made on first use
  mutable DataView joined_view_;
  std::optional<Dataset> dataset_;  // from a path
  std::vector<uint64_t> bad_rows_;
  // Columns copied or transformed from arrays (empty when used in place).
  std::unique_ptr<float[]> labels_, numeric_;
  std::unique_ptr<uint32_t[]> sparse_;
  pybind11::object keep_labels_, keep_sparse_;  // arrays used in place
  int zero_copy_ = 0;
};

void bind_data(pybind11::module_& m);

}  // namespace shadowsync::python
