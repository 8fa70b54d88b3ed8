// FeatureSchema: Criteo's preset, feature positions, validation, JSON reading / writing and the
// first difference between two schemas.
#include "shadowsync/data/feature_schema.hpp"

#include <cctype>
#include <set>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"

namespace shadowsync {
namespace {

std::string transform_name(NumericTransformKind t) { return t == NumericTransformKind::Log1p ? "log1p" : "identity"; }

std::string describe(const SchemaColumn& c) { return c.name + " (" + column_kind_name(c.kind) + ")"; }

// One character, printable ASCII, written as itself in JSON.
std::string separator_text(char c) { return std::string(1, c); }

}  // namespace

namespace {
// A max_length of 0 means the default: the two compare equal.
uint32_t effective_max_length(const SchemaColumn& c) {
  return c.max_length == 0 ? FeatureSchema::kDefaultMaxLength : c.max_length;
}
}  // namespace

bool operator==(const SchemaColumn& a, const SchemaColumn& b) {
  // `rows` is a request, not part of how data is read (see the header).
  return a.name == b.name && a.kind == b.kind && a.transform == b.transform && a.separator == b.separator &&
         effective_max_length(a) == effective_max_length(b) && a.pooling == b.pooling;
}

std::string column_kind_name(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::Label: return "label";
    case ColumnKind::Numeric: return "numeric";
    case ColumnKind::Categorical: return "categorical";
    case ColumnKind::MultiHot: return "multi_hot";
    case ColumnKind::Ignored: return "ignore";
  }
  return "?";
}

std::optional<ColumnKind> parse_column_kind(std::string_view text) {
  for (ColumnKind k : {ColumnKind::Label, ColumnKind::Numeric, ColumnKind::Categorical, ColumnKind::MultiHot,
                       ColumnKind::Ignored}) {
    if (text == column_kind_name(k)) return k;
  }
  return std::nullopt;
}

std::string pooling_name(Pooling pooling) { return pooling == Pooling::Sum ? "sum" : "mean"; }

FeatureSchema FeatureSchema::criteo() {
  FeatureSchema schema;
  schema.columns.push_back(SchemaColumn{.name = "label", .kind = ColumnKind::Label});
  for (int j = 1; j <= 13; ++j) schema.columns.push_back(SchemaColumn{.name = "I" + std::to_string(j), .kind = ColumnKind::Numeric});
  for (int t = 1; t <= 26; ++t) {
    schema.columns.push_back(SchemaColumn{.name = "C" + std::to_string(t), .kind = ColumnKind::Categorical});
  }
  return schema;
}

bool FeatureSchema::is_criteo() const { return *this == criteo(); }

int FeatureSchema::label_column() const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].kind == ColumnKind::Label) return int(i);
  }
  return -1;
}

namespace {
int count_kind(const std::vector<SchemaColumn>& columns, ColumnKind kind) {
  int n = 0;
  for (const auto& c : columns) n += c.kind == kind;
  return n;
}
int nth_of_kind(const std::vector<SchemaColumn>& columns, ColumnKind kind, int n) {
  int seen = 0;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].kind == kind && seen++ == n) return int(i);
  }
  throw Error(fmt::format("schema: no {} feature {}", column_kind_name(kind), n));
}
}  // namespace

int FeatureSchema::numeric_count() const { return count_kind(columns, ColumnKind::Numeric); }
int FeatureSchema::categorical_count() const { return count_kind(columns, ColumnKind::Categorical); }
int FeatureSchema::multi_hot_count() const { return count_kind(columns, ColumnKind::MultiHot); }
int FeatureSchema::numeric_column(int j) const { return nth_of_kind(columns, ColumnKind::Numeric, j); }
int FeatureSchema::table_column(int t) const {
  const int one_hot = categorical_count();
  return t < one_hot ? nth_of_kind(columns, ColumnKind::Categorical, t)
                     : nth_of_kind(columns, ColumnKind::MultiHot, t - one_hot);
}
uint32_t FeatureSchema::max_length(int m) const {
  const uint32_t n = columns[size_t(nth_of_kind(columns, ColumnKind::MultiHot, m))].max_length;
  return n == 0 ? kDefaultMaxLength : n;
}
Pooling FeatureSchema::pooling(int m) const {
  return columns[size_t(nth_of_kind(columns, ColumnKind::MultiHot, m))].pooling;
}

void FeatureSchema::validate(const std::string& where) const {
  if (columns.empty()) throw Error(where + ": the schema has no columns");
  if (columns.size() > 100000) throw Error(fmt::format("{}: {} columns, more than 100000", where, columns.size()));
  std::set<std::string> names;
  int labels = 0;
  for (size_t i = 0; i < columns.size(); ++i) {
    const SchemaColumn& c = columns[i];
    const std::string at = fmt::format("{}: column {} ({})", where, i, c.name);
    if (c.name.empty()) throw Error(fmt::format("{}: column {} has an empty name", where, i));
    for (char ch : c.name) {
      if (static_cast<unsigned char>(ch) < 0x20) throw Error(fmt::format("{}: column {} has a control character in its name", where, i));
    }
    if (!names.insert(c.name).second) throw Error(at + ": the name is used by an earlier column too");
    labels += c.kind == ColumnKind::Label;
    if (c.kind == ColumnKind::MultiHot) {
      const unsigned char s = static_cast<unsigned char>(c.separator);
      if (s < 0x20 || s > 0x7e || c.separator == '\t' || c.separator == '"' || c.separator == '-' ||
          std::isalnum(s)) {
        throw Error(at + ": the separator must be one printable ASCII character that is not a letter, digit, '-', "
                         "'\"' or the field delimiter");
      }
      if (c.max_length > kMaxMaxLength) {
        throw Error(fmt::format("{}: max_length {} is more than {}", at, c.max_length, kMaxMaxLength));
      }
    }
  }
  if (labels != 1) {
    throw Error(fmt::format("{}: the schema needs exactly one label column, it has {}", where, labels));
  }
  if (table_count() + numeric_count() == 0) throw Error(where + ": the schema has no feature column");
}

nlohmann::json FeatureSchema::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const SchemaColumn& c : columns) {
    nlohmann::json j = {{"name", c.name}, {"kind", column_kind_name(c.kind)}};
    if (c.kind == ColumnKind::Numeric && c.transform != NumericTransformKind::Log1p) j["transform"] = transform_name(c.transform);
    if (c.kind == ColumnKind::MultiHot) {
      j["separator"] = separator_text(c.separator);
      j["max_length"] = c.max_length == 0 ? kDefaultMaxLength : c.max_length;
      j["pooling"] = pooling_name(c.pooling);
    }
    if ((c.kind == ColumnKind::Categorical || c.kind == ColumnKind::MultiHot) && c.rows != 0) j["rows"] = c.rows;
    list.push_back(std::move(j));
  }
  return {{"columns", list},
          {"header", header},
          {"hex_ids", hex_ids},
          {"overlong", overlong == OverlongLists::Cut ? "cut" : "refuse"}};
}

FeatureSchema FeatureSchema::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": a schema must be a JSON object {\"columns\": [...]}");
  for (const auto& item : j.items()) {
    if (item.key() != "columns" && item.key() != "header" && item.key() != "hex_ids" && item.key() != "overlong") {
      throw Error(where + ": unknown field " + json_brief(item.key()) + " (valid: columns, header, hex_ids, overlong)");
    }
  }
  FeatureSchema schema;
  auto boolean = [&](const char* name, bool& out) {
    if (!j.contains(name)) return;
    if (!j.at(name).is_boolean()) throw Error(fmt::format("{}: {} must be true or false, got {}", where, name, json_brief(j.at(name))));
    out = j.at(name).get<bool>();
  };
  boolean("header", schema.header);
  boolean("hex_ids", schema.hex_ids);
  if (j.contains("overlong")) {
    const auto& o = j.at("overlong");
    if (o == "cut") {
      schema.overlong = OverlongLists::Cut;
    } else if (o == "refuse") {
      schema.overlong = OverlongLists::Refuse;
    } else {
      throw Error(fmt::format("{}: overlong must be \"cut\" or \"refuse\", got {}", where, json_brief(o)));
    }
  }
  if (!j.contains("columns")) throw Error(where + ": missing field \"columns\"");
  const nlohmann::json& list = j.at("columns");
  if (!list.is_array()) throw Error(where + ": columns must be an array of column objects");
  for (size_t i = 0; i < list.size(); ++i) {
    const nlohmann::json& c = list[i];
    const std::string at = fmt::format("{}: columns[{}]", where, i);
    if (!c.is_object()) throw Error(at + " must be an object {\"name\": ..., \"kind\": ...}, got " + json_brief(c));
    SchemaColumn column;
    if (!c.contains("name") || !c.at("name").is_string()) throw Error(at + ".name must be a string");
    column.name = c.at("name").get<std::string>();
    if (!c.contains("kind") || !c.at("kind").is_string()) {
      throw Error(at + ".kind must be one of label, numeric, categorical, multi_hot, ignore");
    }
    const auto kind = parse_column_kind(c.at("kind").get<std::string>());
    if (!kind) {
      throw Error(at + ".kind: unknown kind " + json_brief(c.at("kind")) +
                  " (valid: label, numeric, categorical, multi_hot, ignore)");
    }
    column.kind = *kind;
    std::set<std::string> valid = {"name", "kind"};
    if (column.kind == ColumnKind::Numeric) valid.insert("transform");
    if (column.kind == ColumnKind::MultiHot) valid.insert({"separator", "max_length", "pooling"});
    if (column.kind == ColumnKind::Categorical || column.kind == ColumnKind::MultiHot) valid.insert("rows");
    for (const auto& item : c.items()) {
      if (!valid.count(item.key())) {
        throw Error(fmt::format("{}: field {} does not apply to a {} column", at, json_brief(item.key()),
                                column_kind_name(column.kind)));
      }
    }
    if (c.contains("transform")) {
      const auto& t = c.at("transform");
      if (t == "log1p") {
        column.transform = NumericTransformKind::Log1p;
      } else if (t == "identity") {
        column.transform = NumericTransformKind::Identity;
      } else {
        throw Error(at + ".transform must be \"log1p\" or \"identity\", got " + json_brief(t));
      }
    }
    if (c.contains("separator")) {
      const auto& s = c.at("separator");
      if (!s.is_string() || s.get<std::string>().size() != 1) {
        throw Error(at + ".separator must be a string of one character, got " + json_brief(s));
      }
      column.separator = s.get<std::string>()[0];
    }
    if (c.contains("max_length")) {
      const auto& m = c.at("max_length");
      if (!m.is_number_unsigned() || m.get<uint64_t>() < 1 || m.get<uint64_t>() > kMaxMaxLength) {
        throw Error(fmt::format("{}.max_length must be an integer in 1..{}, got {}", at, kMaxMaxLength, json_brief(m)));
      }
      column.max_length = uint32_t(m.get<uint64_t>());
    }
    if (c.contains("pooling")) {
      const auto& p = c.at("pooling");
      if (p == "sum") {
        column.pooling = Pooling::Sum;
      } else if (p == "mean") {
        column.pooling = Pooling::Mean;
      } else {
        throw Error(at + ".pooling must be \"sum\" or \"mean\", got " + json_brief(p));
      }
    }
    if (c.contains("rows")) {
      const auto& r = c.at("rows");
      if (!r.is_number_unsigned() || r.get<uint64_t>() < 2 || r.get<uint64_t>() > (1ull << 30)) {
        throw Error(at + ".rows must be an integer in 2..1073741824, got " + json_brief(r));
      }
      column.rows = uint32_t(r.get<uint64_t>());
    }
    if (column.kind == ColumnKind::MultiHot && column.max_length == 0) column.max_length = kDefaultMaxLength;
    schema.columns.push_back(std::move(column));
  }
  schema.validate(where);
  return schema;
}

std::string FeatureSchema::first_difference(const FeatureSchema& other) const {
  const size_t n = std::min(columns.size(), other.columns.size());
  for (size_t i = 0; i < n; ++i) {
    const SchemaColumn& a = columns[i];
    const SchemaColumn& b = other.columns[i];
    if (a == b) continue;
    if (a.name != b.name || a.kind != b.kind) return fmt::format("column {}: {} vs {}", i, describe(a), describe(b));
    if (a.transform != b.transform) {
      return fmt::format("column {} ({}): transform {} vs {}", i, a.name, transform_name(a.transform), transform_name(b.transform));
    }
    if (a.separator != b.separator) {
      return fmt::format("column {} ({}): separator '{}' vs '{}'", i, a.name, a.separator, b.separator);
    }
    if (effective_max_length(a) != effective_max_length(b)) {
      return fmt::format("column {} ({}): max_length {} vs {}", i, a.name, effective_max_length(a), effective_max_length(b));
    }
    return fmt::format("column {} ({}): pooling {} vs {}", i, a.name, pooling_name(a.pooling), pooling_name(b.pooling));
  }
  if (columns.size() != other.columns.size()) return fmt::format("columns: {} vs {}", columns.size(), other.columns.size());
  if (header != other.header) return fmt::format("header: {} vs {}", header ? "yes" : "no", other.header ? "yes" : "no");
  if (hex_ids != other.hex_ids) {
    return fmt::format("hex_ids: {} vs {}", hex_ids ? "yes" : "no", other.hex_ids ? "yes" : "no");
  }
  if (overlong != other.overlong) {
    return fmt::format("overlong: {} vs {}", overlong == OverlongLists::Cut ? "cut" : "refuse",
                       other.overlong == OverlongLists::Cut ? "cut" : "refuse");
  }
  return {};
}

}  // namespace shadowsync
