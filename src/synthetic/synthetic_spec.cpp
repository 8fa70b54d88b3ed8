// SyntheticSpec (see include/shadowsync/synthetic/synthetic_schema.hpp): the distributions of
// every column of a schema, the Avazu-like preset, checks and the JSON form.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"

namespace shadowsync {
namespace {

// Vocabulary sizes given to categorical columns in turn (small to large, Criteo-like spread).
constexpr uint32_t kVocabularies[] = {1000, 50, 10000, 7, 300, 100000, 25, 3000};
constexpr double kZipfs[] = {1.05, 0.8, 1.1, 0.7, 1.0, 1.15, 0.8, 1.05};

bool is_feature(ColumnKind kind) {
  return kind == ColumnKind::Numeric || kind == ColumnKind::Categorical || kind == ColumnKind::MultiHot;
}

SyntheticColumnSpec default_column(const SchemaColumn& column, int nth_table, int nth_numeric) {
  SyntheticColumnSpec c;
  if (column.kind == ColumnKind::Categorical) {
    c.values = column.rows != 0 ? column.rows : kVocabularies[nth_table % 8];
    c.zipf = kZipfs[nth_table % 8];
    c.missing = nth_table % 3 == 2 ? 0.05 : 0.0;
  } else if (column.kind == ColumnKind::MultiHot) {
    c.values = column.rows != 0 ? column.rows : 1000;
    c.zipf = 1.0;
    c.missing = 0.1;
    const uint32_t max_length = column.max_length == 0 ? FeatureSchema::kDefaultMaxLength : column.max_length;
    c.mean_length = std::min(3.0, static_cast<double>(max_length));
  } else if (column.kind == ColumnKind::Numeric) {
    if (column.transform == NumericTransformKind::Identity) {
      c.mu = 0.5 + 0.25 * (nth_numeric % 4);
      c.sigma = 1.0;
    } else {
      c.mu = 1.0 + 0.5 * (nth_numeric % 5);
      c.sigma = 0.8 + 0.2 * (nth_numeric % 4);
    }
    c.missing = nth_numeric % 2 == 1 ? 0.2 : 0.02;
  }
  return c;
}

std::string one_char(char c) { return std::string(1, c); }

}  // namespace

SyntheticSpec SyntheticSpec::for_schema(const FeatureSchema& schema, char delimiter) {
  schema.validate("synthetic spec: schema");
  SyntheticSpec spec;
  spec.schema = schema;
  spec.delimiter = delimiter;
  int tables = 0, numerics = 0;
  for (const SchemaColumn& column : schema.columns) {
    spec.columns.push_back(default_column(column, tables, numerics));
    tables += column.kind == ColumnKind::Categorical || column.kind == ColumnKind::MultiHot;
    numerics += column.kind == ColumnKind::Numeric;
  }
  spec.validate("synthetic spec");
  return spec;
}

SyntheticSpec SyntheticSpec::avazu() {
  FeatureSchema schema;
  schema.header = true;
  schema.hex_ids = false;
  auto add = [&](const char* name, ColumnKind kind) -> SchemaColumn& {
    SchemaColumn c;
    c.name = name;
    c.kind = kind;
    schema.columns.push_back(c);
    return schema.columns.back();
  };
  add("id", ColumnKind::Ignored);
  add("click", ColumnKind::Label);
  for (const char* name : {"C1", "banner_pos", "site_id", "site_category", "app_id", "device_type", "device_model"}) {
    add(name, ColumnKind::Categorical);
  }
  SchemaColumn& tags = add("tags", ColumnKind::MultiHot);
  tags.separator = '|';
  tags.max_length = 16;
  tags.pooling = Pooling::Mean;
  add("hour", ColumnKind::Numeric);
  add("impressions", ColumnKind::Numeric);
  add("price", ColumnKind::Numeric).transform = NumericTransformKind::Identity;
  SyntheticSpec spec = for_schema(schema, '\t');
  // Vocabularies of Avazu's columns, 7 to 5,000 values.
  const uint32_t values[] = {7, 8, 5000, 26, 4000, 7, 4500};
  const double zipfs[] = {0.9, 0.8, 1.1, 0.9, 1.1, 0.7, 1.05};
  for (int i = 0; i < 7; ++i) {
    spec.columns[static_cast<size_t>(2 + i)].values = values[i];
    spec.columns[static_cast<size_t>(2 + i)].zipf = zipfs[i];
    spec.columns[static_cast<size_t>(2 + i)].missing = 0;
  }
  SyntheticColumnSpec& list = spec.columns[9];
  list.values = 2000;
  list.mean_length = 3;
  list.missing = 0.1;
  spec.columns[10] = {0, 1.05, 0.0, 3, 2.5, 0.5};   // hour: counts around 12
  spec.columns[11] = {0, 1.05, 0.1, 3, 1.5, 1.2};   // impressions: heavy-tailed counts
  spec.columns[12] = {0, 1.05, 0.05, 3, 1.0, 0.5};  // price: decimals around 1
  spec.validate("synthetic spec avazu");
  return spec;
}

void SyntheticSpec::validate(const std::string& where) const {
  schema.validate(where + ": schema");
  if (columns.size() != schema.columns.size()) {
    throw Error(fmt::format("{}: {} column specs for {} schema columns", where, columns.size(), schema.columns.size()));
  }
  // A delimiter never appears inside a written value (hex ids, numbers, lists).
  const unsigned char d = static_cast<unsigned char>(delimiter);
  if (delimiter != '\t' && (d < 0x20 || d > 0x7e || std::isalnum(d) || delimiter == '-' || delimiter == '.' ||
                            delimiter == '"' || delimiter == ' ')) {
    throw Error(where + ": the delimiter must be a tab or one printable ASCII character that is not a letter, digit, "
                        "space, '-', '.' or '\"'");
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    const SchemaColumn& column = schema.columns[i];
    const SyntheticColumnSpec& c = columns[i];
    const std::string at = fmt::format("{}: column {} ({})", where, i, column.name);
    if (!is_feature(column.kind)) continue;
    if (!(c.missing >= 0 && c.missing < 1)) throw Error(fmt::format("{}: missing {} not in [0, 1)", at, c.missing));
    if (column.kind == ColumnKind::Numeric) {
      if (!(c.sigma > 0 && c.sigma < 100) || !(std::abs(c.mu) < 1e6)) {
        throw Error(fmt::format("{}: needs sigma in (0, 100) and |mu| < 1e6, got mu {} sigma {}", at, c.mu, c.sigma));
      }
      continue;
    }
    if (c.values < 1) throw Error(at + ": values must be at least 1");
    if (!(c.zipf > 0 && c.zipf < 10)) throw Error(fmt::format("{}: zipf {} not in (0, 10)", at, c.zipf));
    if (column.kind == ColumnKind::MultiHot) {
      if (column.separator == delimiter) throw Error(at + ": the list separator is the field delimiter");
      const uint32_t max_length = column.max_length == 0 ? FeatureSchema::kDefaultMaxLength : column.max_length;
      if (!(c.mean_length >= 1 && c.mean_length <= max_length)) {
        throw Error(fmt::format("{}: mean_length {} not in [1, max_length {}]", at, c.mean_length, max_length));
      }
    }
  }
}

nlohmann::json SyntheticSpec::to_json() const {
  nlohmann::json columns_json = nlohmann::json::object();
  for (size_t i = 0; i < columns.size(); ++i) {
    const SchemaColumn& column = schema.columns[i];
    const SyntheticColumnSpec& c = columns[i];
    if (!is_feature(column.kind)) continue;
    nlohmann::json j = {{"missing", c.missing}};
    if (column.kind == ColumnKind::Numeric) {
      j["mu"] = c.mu;
      j["sigma"] = c.sigma;
    } else {
      j["values"] = c.values;
      j["zipf"] = c.zipf;
      if (column.kind == ColumnKind::MultiHot) j["mean_length"] = c.mean_length;
    }
    columns_json[column.name] = j;
  }
  return {{"schema", schema.to_json()}, {"delimiter", one_char(delimiter)}, {"columns", columns_json}};
}

SyntheticSpec SyntheticSpec::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object (a schema, or {\"schema\": ..., \"columns\": ...})");
  if (!j.contains("schema")) return for_schema(FeatureSchema::from_json(j, where));  // a plain schema
  for (const auto& item : j.items()) {
    if (item.key() != "schema" && item.key() != "delimiter" && item.key() != "columns") {
      throw Error(where + ": unknown field \"" + item.key() + "\" (valid: schema, delimiter, columns)");
    }
  }
  char delimiter = '\t';
  if (j.contains("delimiter")) {
    const auto& d = j.at("delimiter");
    if (!d.is_string() || d.get<std::string>().size() != 1) throw Error(where + ": delimiter must be a string of one character");
    delimiter = d.get<std::string>()[0];
  }
  SyntheticSpec spec = for_schema(FeatureSchema::from_json(j.at("schema"), where + ": schema"));
  spec.delimiter = delimiter;
  if (!j.contains("columns")) {
    spec.validate(where);
    return spec;
  }
  const nlohmann::json& given = j.at("columns");
  if (!given.is_object()) throw Error(where + ": columns must be an object of column name -> distribution");
  for (const auto& item : given.items()) {
    const std::string at = where + ": columns." + item.key();
    size_t i = 0;
    while (i < spec.schema.columns.size() && spec.schema.columns[i].name != item.key()) ++i;
    if (i == spec.schema.columns.size()) throw Error(at + ": no column of that name in the schema");
    if (!is_feature(spec.schema.columns[i].kind)) throw Error(at + ": not a feature column (label or ignored)");
    if (!item.value().is_object()) throw Error(at + ": must be an object");
    SyntheticColumnSpec& c = spec.columns[i];
    // The fields of this column's kind: one of another kind would be accepted and then lost
    // (not drawn from, not written back by to_json).
    const ColumnKind kind = spec.schema.columns[i].kind;
    const std::vector<std::string> own = kind == ColumnKind::Numeric    ? std::vector<std::string>{"missing", "mu", "sigma"}
                                         : kind == ColumnKind::MultiHot ? std::vector<std::string>{"values", "zipf", "missing", "mean_length"}
                                                                        : std::vector<std::string>{"values", "zipf", "missing"};
    for (const auto& field : item.value().items()) {
      const std::string& name = field.key();
      const nlohmann::json& v = field.value();
      static const std::set<std::string> known = {"values", "zipf", "missing", "mean_length", "mu", "sigma"};
      if (known.count(name) != 0 && std::find(own.begin(), own.end(), name) == own.end()) {
        std::string list;
        for (const std::string& f : own) list += (list.empty() ? "" : ", ") + f;
        throw Error(fmt::format("{}.{} does not apply to a {} column (its fields: {})", at, name,
                                column_kind_name(kind), list));
      }
      if (!v.is_number()) throw Error(at + "." + name + " must be a number");
      if (name == "values") {
        if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > (int64_t{1} << 31)) {
          throw Error(at + ".values must be an integer in 1..2147483648");
        }
        c.values = static_cast<uint32_t>(v.get<int64_t>());
      } else if (name == "zipf") {
        c.zipf = v.get<double>();
      } else if (name == "missing") {
        c.missing = v.get<double>();
      } else if (name == "mean_length") {
        c.mean_length = v.get<double>();
      } else if (name == "mu") {
        c.mu = v.get<double>();
      } else if (name == "sigma") {
        c.sigma = v.get<double>();
      } else {
        throw Error(at + ": unknown field \"" + name + "\" (valid: values, zipf, missing, mean_length, mu, sigma)");
      }
    }
  }
  spec.validate(where);
  return spec;
}

namespace {
constexpr size_t kMaxSpecFileBytes = size_t{16} << 20;  // a spec is a few KiB
}  // namespace

SyntheticSpec SyntheticSpec::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the schema file");
  in.close();
  // Bounded like every untrusted document: a number too large for its type, deep nesting or a
  // duplicate key is an Error naming the file (an escaping json exception ended the process).
  return from_json(parse_untrusted_json(read_small_file(path, kMaxSpecFileBytes), path), path);
}

}  // namespace shadowsync
