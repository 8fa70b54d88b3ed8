// FeatureSchema: what the fields of a line of a click log are — an ordered list of columns, each
// with a name and a kind (label, numeric, categorical with one id per row, multi-hot categorical
// with a list of ids per row, or ignored). Criteo's layout (label, I1..I13, C1..C26) is the
// default and reads exactly as the fixed layout always did. The schema is stored in every binary
// cache and checkpoint (to_json), so a model is never fed data of another shape.
//
// Contracts:
//  - Feature order. Numeric feature j is the j-th numeric column in column order. Embedding
//    table t is, for t < categorical_count(), the t-th categorical (one-hot) column in column
//    order, and for t >= categorical_count() the (t - categorical_count())-th multi-hot column.
//    DataView, HashingConfig::rows, the model's tables and every per-table list follow it.
//  - Exactly one label column. Names are unique and non-empty.
//  - A multi-hot field is split at `separator` into ids; an empty field is an empty list (a
//    missing value). A list longer than max_length is cut to its first max_length ids (counted
//    in the parse report) or, with OverlongLists::Refuse, is a bad line.
//  - Numeric fields: Log1p columns read integers and store log(1 + max(x, 0)) (Criteo's
//    transform); Identity columns read decimal numbers and store them as they are (finite, |x| <
//    1e30). A missing numeric value is 0 either way.
//  - Categorical values are read as 32-bit hexadecimal ids (Criteo's form) when `hex_ids`, else
//    as arbitrary strings hashed to 32 bits (string_id in feature_transform.hpp) — Avazu's and
//    most logs' ids are not hexadecimal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shadowsync {

enum class ColumnKind { Label, Numeric, Categorical, MultiHot, Ignored };
enum class Pooling { Sum, Mean };
enum class NumericTransformKind { Log1p, Identity };
enum class OverlongLists { Cut, Refuse };

// "label", "numeric", "categorical", "multi_hot", "ignore"; and the reverse (nullopt if unknown).
std::string column_kind_name(ColumnKind kind);
std::optional<ColumnKind> parse_column_kind(std::string_view text);
std::string pooling_name(Pooling pooling);  // "sum", "mean"

struct SchemaColumn {
  std::string name;
  ColumnKind kind = ColumnKind::Ignored;
  // Numeric columns.
  NumericTransformKind transform = NumericTransformKind::Log1p;
  // Multi-hot columns.
  char separator = ',';
  uint32_t max_length = 0;  // 0: FeatureSchema::kDefaultMaxLength (and equal to it in comparisons)
  Pooling pooling = Pooling::Sum;
  // Categorical and multi-hot columns: rows of the column's embedding table asked for by a schema
  // file (0: the run's rows_per_table). Only a request: the table sizes in force are the
  // HashingConfig's, so first_difference() and operator== ignore it.
  uint32_t rows = 0;

  friend bool operator==(const SchemaColumn& a, const SchemaColumn& b);
};

struct FeatureSchema {
  static constexpr uint32_t kDefaultMaxLength = 64;
  static constexpr uint32_t kMaxMaxLength = 1u << 16;

  std::vector<SchemaColumn> columns;  // in the order of the fields of a line
  bool header = false;                // the first line of each text file names the columns
  bool hex_ids = true;                // categorical values are hexadecimal ids (Criteo's form)
  OverlongLists overlong = OverlongLists::Cut;

  // label, I1..I13 (log1p), C1..C26 (hexadecimal ids), no header.
  static FeatureSchema criteo();
  bool is_criteo() const;  // the same columns, header, ids and rules as criteo()

  int field_count() const { return int(columns.size()); }
  int label_column() const;  // index into columns; -1 if none
  int numeric_count() const;
  int categorical_count() const;  // one-hot categorical columns
  int multi_hot_count() const;
  int table_count() const { return categorical_count() + multi_hot_count(); }
  // Column index of numeric feature j / of embedding table t (see "Feature order").
  int numeric_column(int j) const;
  int table_column(int t) const;
  const std::string& numeric_name(int j) const { return columns[size_t(numeric_column(j))].name; }
  const std::string& table_name(int t) const { return columns[size_t(table_column(t))].name; }
  // Max ids kept per row of multi-hot feature m (0 <= m < multi_hot_count()).
  uint32_t max_length(int m) const;
  Pooling pooling(int m) const;

  // Throws Error "`where`: column N (name): what" unless the schema is one a reader can read:
  // one label, unique non-empty names, at least one feature, separators that differ from the
  // field delimiter '\t'... and max lengths in 1..kMaxMaxLength.
  void validate(const std::string& where) const;

  // {"columns": [{"name": "click", "kind": "label"}, {"name": "hour", "kind": "numeric",
  //   "transform": "log1p"}, {"name": "site", "kind": "categorical", "rows": 4096},
  //   {"name": "tags", "kind": "multi_hot", "separator": "|", "max_length": 16, "pooling": "mean"},
  //   {"name": "id", "kind": "ignore"}], "header": true, "hex_ids": false, "overlong": "cut"}
  // Fields at their default may be left out; from_json(to_json()) == *this.
  nlohmann::json to_json() const;
  // Errors name `where` and the field: "schema.json: columns[3].kind: ...".
  static FeatureSchema from_json(const nlohmann::json& j, const std::string& where);

  // "" when `other` reads the same features the same way; else the first difference, naming this
  // schema's column first: "column 4: C3 (categorical) vs tags (multi_hot)",
  // "columns: 40 vs 12", "header: no vs yes".
  std::string first_difference(const FeatureSchema& other) const;

  friend bool operator==(const FeatureSchema&, const FeatureSchema&) = default;
};

}  // namespace shadowsync
