// Rows of a synthetic log of any schema (synthetic_schema.hpp): the values one row draws for each
// column of a SyntheticSpec, the sampler that draws them and the text line they make.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rng.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"
#include "zipf.hpp"

namespace shadowsync::synthetic {

// One row's values, by feature (feature_schema.hpp's order), before its label is drawn.
struct SchemaRow {
  std::vector<double> numeric;           // numeric feature j as written (an integer for log1p)
  std::vector<uint8_t> numeric_missing;  // 1: an empty field
  std::vector<uint32_t> rank;            // categorical feature t: 1..values, 0 = missing
  std::vector<std::vector<uint32_t>> lists;  // multi-hot feature m: ranks of its ids (empty: missing)
  std::vector<uint64_t> ignored;         // ignored column k: its row id
};

// The value the teacher reads of numeric feature j: log(1 + max(x, 0)) for log1p columns, x for
// identity columns, 0 when missing (what the data module stores).
double schema_numeric_feature(const SyntheticSpec& spec, const SchemaRow& row, int j);

class SchemaRowSampler {
 public:
  explicit SchemaRowSampler(const SyntheticSpec& spec);
  void sample(Rng& rng, SchemaRow& row) const;
  // The row as one text line ('\n' ended) with `label`, appended to `out`.
  void append_line(std::string& out, int label, const SchemaRow& row) const;
  // The header line (column names joined by the delimiter, '\n' ended).
  std::string header_line() const;
  const SyntheticSpec& spec() const { return spec_; }
  // Schema column of numeric feature j / of table t (categorical then multi-hot).
  int numeric_column(int j) const { return numeric_columns_[static_cast<size_t>(j)]; }
  int table_column(int t) const { return table_columns_[static_cast<size_t>(t)]; }
  int numeric_count() const { return static_cast<int>(numeric_columns_.size()); }
  int categorical_count() const { return categorical_; }
  int multi_hot_count() const { return static_cast<int>(table_columns_.size()) - categorical_; }

 private:
  SyntheticSpec spec_;
  std::vector<int> numeric_columns_, table_columns_;
  int categorical_ = 0;
  std::vector<ZipfSampler> zipf_;  // per table
};

}  // namespace shadowsync::synthetic
