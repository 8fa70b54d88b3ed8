// Synthetic click logs of any feature schema (feature_schema.hpp) from a planted teacher: the
// columns' distributions (SyntheticSpec), the generator writing the rows as text in the schema's
// layout, and the teacher's score on generated rows. Criteo's own layout keeps its generator
// (synthetic.hpp, generate_synthetic_criteo), whose bytes never change.
//
// Contract:
//  - SyntheticSpec: one ColumnSpec per column of the schema. Categorical: `values` ids drawn
//    Zipf(`zipf`) over ranks 1..values, missing (an empty field) with probability `missing`.
//    Multi-hot: a list of length 0 with probability `missing`, else 1 + Poisson(mean_length - 1)
//    cut at the column's max_length; each item a Zipf(`zipf`) rank over the column's own
//    vocabulary of `values` ids; items joined by the column's separator. Numeric Log1p:
//    Criteo-like heavy-tailed integers floor(exp(mu + sigma N(0,1))), missing with `missing`.
//    Numeric Identity: decimals mu + sigma N(0,1) written with 4 decimals, missing with
//    `missing`. Ignored columns: 16 hex digits (a row id). Ids are written as 8 lowercase hex
//    digits (a bijection of (column, rank)), readable whether or not the schema's hex_ids is set.
//  - Rows: the schema's columns in order joined by `delimiter`, '\n' ended, after a header line
//    of the column names when schema.header. Same (spec, rows, seed) -> same bytes for any
//    thread count (chunks of kSyntheticChunkRows, one random stream per chunk).
//  - Teacher: logit = bias + numeric terms (linear, a tanh of a weighted sum, numeric x first
//    categorical) + a per-id effect of every categorical column + FM pairs of consecutive
//    categorical columns + for every multi-hot column the pooled per-id effects of its ids
//    (sum / sqrt(length)) and the FM product of its mean id factor with the first categorical
//    column's factor. Every feature column carries signal; a model that ignores one loses NE.
//    The bias is calibrated for a positive rate of about 25 %.
//  - Summary (out_path + ".json"): format "shadowsync-synthetic", the rows, seed, positive rate,
//    teacher log loss and NE, and the spec (to_json), so that score_synthetic_teacher() can make
//    any rows again.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {

struct SyntheticColumnSpec {
  uint32_t values = 0;      // categorical / multi-hot: vocabulary size (>= 1)
  double zipf = 1.05;       // categorical / multi-hot: Zipf exponent (> 0)
  double missing = 0;       // any feature column: probability of an empty field, in [0, 1)
  double mean_length = 3;   // multi-hot: mean length of a non-empty list, in [1, max_length]
  double mu = 1.5;          // numeric: location (of log(value) for log1p columns)
  double sigma = 1.0;       // numeric: scale (> 0)
  friend bool operator==(const SyntheticColumnSpec&, const SyntheticColumnSpec&) = default;
};

struct SyntheticSpec {
  FeatureSchema schema;
  char delimiter = '\t';
  std::vector<SyntheticColumnSpec> columns;  // one per schema column

  // Distributions for every column of `schema` (validated), chosen from the column's place:
  // categorical vocabularies cycle through 7 .. 100000 values (a column's `rows` request, when
  // given, is its vocabulary), multi-hot lists of mean length 3 over 1000 ids.
  static SyntheticSpec for_schema(const FeatureSchema& schema, char delimiter = '\t');
  // An Avazu-like log: header line; id (ignored), click (label), 7 categorical columns of 7 to
  // 5,000 values (string ids), one multi-hot column "tags" ('|'-separated, mean length 3,
  // max 16), 3 numeric columns (two log1p counts, one decimal "price").
  static SyntheticSpec avazu();

  // Throws Error naming `where` and the column when the spec cannot be generated (column count,
  // ranges above, a multi-hot separator equal to the delimiter).
  void validate(const std::string& where) const;

  // {"schema": {...}, "delimiter": "\t", "columns": {"site": {"values": 5000, "zipf": 1.1,
  //  "missing": 0}, ...}}. from_json also takes a plain schema object (the file `train --schema`
  // reads): every column then gets for_schema()'s distributions; "columns" may name some
  // columns only (the others keep for_schema()'s). Errors name `where` and the field.
  nlohmann::json to_json() const;
  static SyntheticSpec from_json(const nlohmann::json& j, const std::string& where);
  static SyntheticSpec from_file(const std::string& path);

  friend bool operator==(const SyntheticSpec&, const SyntheticSpec&) = default;
};

// Writes options.rows rows of `spec` to out_path and the summary to out_path + ".json" (both
// atomically, as generate_synthetic_criteo); returns the summary.
SyntheticSummary generate_synthetic(const SyntheticOptions& options, const SyntheticSpec& spec,
                                    const std::string& out_path);

// The spec a summary written by generate_synthetic records (Criteo's summaries record none:
// nullopt). Errors as read_synthetic_summary.
std::optional<SyntheticSpec> read_synthetic_spec(const std::string& json_path);

// The teacher's score on rows [first_row, first_row + labels.size()) of the data that
// generate_synthetic writes for (spec, seed); as score_synthetic_teacher for Criteo's.
TeacherScore score_synthetic_teacher(const SyntheticSpec& spec, uint64_t seed, uint64_t first_row,
                                     std::span<const float> labels);

// The teacher's logits of rows [first_row, first_row + rows) of that data, in row order.
std::vector<double> synthetic_teacher_logits(const SyntheticSpec& spec, uint64_t seed, uint64_t first_row,
                                             uint64_t rows);

}  // namespace shadowsync
