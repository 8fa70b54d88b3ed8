// Tests of FeatureSchema: Criteo's preset and its feature order, positions of the features of a
// mixed schema, JSON round trip, every validation error naming its column, and first_difference.
#include "shadowsync/data/feature_schema.hpp"

#include <gtest/gtest.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

FeatureSchema avazu_like() {
  return FeatureSchema::from_json(nlohmann::json::parse(R"({"header": true, "hex_ids": false, "columns": [
    {"name": "id", "kind": "ignore"}, {"name": "click", "kind": "label"},
    {"name": "tags", "kind": "multi_hot", "separator": "|", "max_length": 8, "pooling": "mean"},
    {"name": "site", "kind": "categorical", "rows": 4096}, {"name": "hour", "kind": "numeric"},
    {"name": "app", "kind": "categorical"}, {"name": "price", "kind": "numeric", "transform": "identity"}]})"),
                                  "avazu.json");
}

TEST(FeatureSchema, CriteoIsLabelThirteenNumericTwentySixCategorical) {
  const FeatureSchema s = FeatureSchema::criteo();
  EXPECT_EQ(s.field_count(), 40);
  EXPECT_EQ(s.label_column(), 0);
  EXPECT_EQ(s.numeric_count(), 13);
  EXPECT_EQ(s.categorical_count(), 26);
  EXPECT_EQ(s.multi_hot_count(), 0);
  EXPECT_EQ(s.numeric_name(0), "I1");
  EXPECT_EQ(s.table_name(25), "C26");
  EXPECT_EQ(s.table_column(0), 14);
  EXPECT_TRUE(s.is_criteo());
  EXPECT_FALSE(s.header);
  EXPECT_TRUE(s.hex_ids);
}

TEST(FeatureSchema, TablesAreOneHotColumnsFirstThenMultiHot) {
  const FeatureSchema s = avazu_like();
  EXPECT_EQ(s.label_column(), 1);
  EXPECT_EQ(s.numeric_count(), 2);
  EXPECT_EQ(s.categorical_count(), 2);
  EXPECT_EQ(s.multi_hot_count(), 1);
  EXPECT_EQ(s.table_count(), 3);
  EXPECT_EQ(s.table_name(0), "site");
  EXPECT_EQ(s.table_name(1), "app");
  EXPECT_EQ(s.table_name(2), "tags");
  EXPECT_EQ(s.numeric_column(1), 6);
  EXPECT_EQ(s.max_length(0), 8u);
  EXPECT_EQ(s.pooling(0), Pooling::Mean);
  EXPECT_EQ(s.columns[3].rows, 4096u);
  EXPECT_EQ(s.columns[6].transform, NumericTransformKind::Identity);
  EXPECT_FALSE(s.is_criteo());
}

TEST(FeatureSchema, JsonRoundTripKeepsEveryField) {
  const FeatureSchema s = avazu_like();
  const FeatureSchema back = FeatureSchema::from_json(s.to_json(), "again");
  EXPECT_EQ(back, s);
  EXPECT_EQ(back.columns[3].rows, 4096u);
  EXPECT_EQ(FeatureSchema::from_json(FeatureSchema::criteo().to_json(), "c"), FeatureSchema::criteo());
  // A multi-hot column left at the default max length (0) reads back as the default it means.
  FeatureSchema defaulted = s;
  defaulted.columns[2].max_length = 0;
  EXPECT_NE(defaulted, s);
  defaulted.columns[2].max_length = 0;
  FeatureSchema d64 = s;
  d64.columns[2].max_length = FeatureSchema::kDefaultMaxLength;
  EXPECT_EQ(defaulted, d64);
  EXPECT_EQ(FeatureSchema::from_json(defaulted.to_json(), "d"), defaulted);
}

TEST(FeatureSchema, BadSchemasAreRefusedNamingTheColumnAndField) {
  auto parse = [](const char* text) { return error_of([&] { FeatureSchema::from_json(nlohmann::json::parse(text), "s.json"); }); };
  EXPECT_EQ(parse(R"({"columns": [{"name": "a", "kind": "numeric"}]})"),
            "s.json: the schema needs exactly one label column, it has 0");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "y", "kind": "numeric"}]})"),
            "s.json: column 1 (y): the name is used by an earlier column too");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "a", "kind": "dense"}]})"),
            "s.json: columns[1].kind: unknown kind \"dense\" (valid: label, numeric, categorical, multi_hot, ignore)");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "a", "kind": "numeric", "pooling": "sum"}]})"),
            "s.json: columns[1]: field \"pooling\" does not apply to a numeric column");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "t", "kind": "multi_hot", "separator": "ab"}]})"),
            "s.json: columns[1].separator must be a string of one character, got \"ab\"");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "t", "kind": "multi_hot", "separator": "7"}]})"),
            "s.json: column 1 (t): the separator must be one printable ASCII character that is not a letter, digit, "
            "'-', '\"' or the field delimiter");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}, {"name": "t", "kind": "multi_hot", "max_length": 0}]})"),
            "s.json: columns[1].max_length must be an integer in 1..65536, got 0");
  EXPECT_EQ(parse(R"({"columns": [{"name": "y", "kind": "label"}]})"), "s.json: the schema has no feature column");
  EXPECT_EQ(parse(R"({"columns": [], "colums": 1})"), "s.json: unknown field \"colums\" (valid: columns, header, hex_ids, overlong)");
  EXPECT_EQ(parse(R"([1])"), "s.json: a schema must be a JSON object {\"columns\": [...]}");
}

TEST(FeatureSchema, FirstDifferenceNamesTheColumn) {
  const FeatureSchema a = avazu_like();
  FeatureSchema b = a;
  EXPECT_EQ(a.first_difference(b), "");
  b.columns[3].rows = 99;  // a request only
  EXPECT_EQ(a.first_difference(b), "");
  b.columns[2].pooling = Pooling::Sum;
  EXPECT_EQ(a.first_difference(b), "column 2 (tags): pooling mean vs sum");
  b = a;
  b.columns[5].kind = ColumnKind::Ignored;
  EXPECT_EQ(a.first_difference(b), "column 5: app (categorical) vs app (ignore)");
  EXPECT_EQ(a.first_difference(FeatureSchema::criteo()), "column 0: id (ignore) vs label (label)");
  b = a;
  b.columns.pop_back();
  EXPECT_EQ(a.first_difference(b), "columns: 7 vs 6");
  b = a;
  b.header = false;
  EXPECT_EQ(a.first_difference(b), "header: yes vs no");
}

}  // namespace
}  // namespace shadowsync
