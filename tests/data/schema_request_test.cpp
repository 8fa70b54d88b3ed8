// SchemaRequest resolution (src/data/schema_request.cpp): Criteo's layout when nothing is
// stated, columns named by a header or by position, every error naming its field, the schema
// file and the fields refused with it, stated options checked against a stored schema, the first
// line of a file, hashing_for.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "../common/temp_paths.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/schema_request.hpp"

namespace shadowsync {
namespace {

using Names = std::optional<std::vector<std::string>>;

std::string resolve_error(const SchemaRequest& r, const Names& header, std::optional<int> fields) {
  try {
    resolve_schema(r, header, fields);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

SchemaRequest csv_request() {
  SchemaRequest r;
  r.header = true;
  r.label = "y";
  r.categorical = {"a", "b"};
  r.ignore = {"id"};
  return r;
}

const Names kHeader = std::vector<std::string>{"id", "y", "a", "b"};

TEST(SchemaRequest, NothingStatedIsCriteo) {
  EXPECT_EQ(resolve_schema(SchemaRequest{}, std::nullopt, std::nullopt), FeatureSchema::criteo());
  EXPECT_EQ(resolve_schema(SchemaRequest{}, std::nullopt, 40), FeatureSchema::criteo());
  SchemaRequest hex;
  hex.hex_ids = true;
  EXPECT_FALSE(hex.states_columns());
  EXPECT_TRUE(resolve_schema(hex, std::nullopt, std::nullopt).is_criteo());
}

TEST(SchemaRequest, HeaderNamesTheColumnsInFileOrder) {
  const FeatureSchema s = resolve_schema(csv_request(), kHeader, 4);
  ASSERT_EQ(s.field_count(), 4);
  EXPECT_EQ(s.columns[0].name, "id");
  EXPECT_EQ(s.columns[0].kind, ColumnKind::Ignored);
  EXPECT_EQ(s.columns[1].kind, ColumnKind::Label);
  EXPECT_EQ(s.columns[2].kind, ColumnKind::Categorical);
  EXPECT_EQ(s.columns[3].name, "b");
  EXPECT_TRUE(s.header);
  EXPECT_FALSE(s.hex_ids);  // a stated schema reads string ids
  EXPECT_EQ(s.label_column(), 1);
  EXPECT_EQ(s.table_count(), 2);
}

TEST(SchemaRequest, PositionsNameColumnsWithoutHeader) {
  SchemaRequest r;
  r.label = "0";
  r.numeric = {"1:identity", "2"};
  r.multi_hot = {"3:|:8:mean"};
  r.hex_ids = true;
  const FeatureSchema s = resolve_schema(r, std::nullopt, 4);
  ASSERT_EQ(s.field_count(), 4);
  EXPECT_EQ(s.columns[1].name, "1");
  EXPECT_EQ(s.columns[1].transform, NumericTransformKind::Identity);
  EXPECT_EQ(s.columns[2].transform, NumericTransformKind::Log1p);
  EXPECT_EQ(s.columns[3].kind, ColumnKind::MultiHot);
  EXPECT_EQ(s.columns[3].separator, '|');
  EXPECT_EQ(s.max_length(0), 8u);
  EXPECT_EQ(s.pooling(0), Pooling::Mean);
  EXPECT_TRUE(s.hex_ids);
  EXPECT_FALSE(s.header);
  // Without a field count the columns are the positions named.
  EXPECT_EQ(resolve_schema(r, std::nullopt, std::nullopt), s);
  // Default max length and pooling, words for separators.
  r.multi_hot = {"3:comma"};
  const FeatureSchema d = resolve_schema(r, std::nullopt, 4);
  EXPECT_EQ(d.columns[3].separator, ',');
  EXPECT_EQ(d.max_length(0), FeatureSchema::kDefaultMaxLength);
  EXPECT_EQ(d.pooling(0), Pooling::Sum);
}

TEST(SchemaRequest, EveryErrorNamesItsField) {
  SchemaRequest no_label = csv_request();
  no_label.label.reset();
  EXPECT_EQ(resolve_error(no_label, kHeader, 4),
            "label: required when the columns are stated (the name of the 0/1 click column)");

  SchemaRequest unnamed = csv_request();
  unnamed.ignore.clear();
  EXPECT_EQ(resolve_error(unnamed, kHeader, 4),
            "ignore: column 0 'id' is not named by label, numeric, categorical, multi_hot or ignore (every "
            "column must be named once; ignore skips it)");

  SchemaRequest unknown = csv_request();
  unknown.numeric = {"price"};
  EXPECT_EQ(resolve_error(unknown, kHeader, 4), "numeric: 'price' is not a column of the header (id, y, a, b)");

  SchemaRequest twice = csv_request();
  twice.numeric = {"a"};
  EXPECT_EQ(resolve_error(twice, kHeader, 4), "categorical: 'a' is already named by numeric");
  SchemaRequest label_twice = csv_request();
  label_twice.ignore = {"id", "y"};
  EXPECT_EQ(resolve_error(label_twice, kHeader, 4), "ignore: 'y' is already named by label");
  SchemaRequest same_list = csv_request();
  same_list.categorical = {"a", "b", "a"};
  EXPECT_EQ(resolve_error(same_list, kHeader, 4), "categorical: 'a' is named twice");

  EXPECT_EQ(resolve_error(csv_request(), kHeader, 5),
            "header: the header names 4 columns, the data's lines have 5 fields");
  EXPECT_EQ(resolve_error(csv_request(), std::vector<std::string>{"id", "y", "a", "a"}, 4),
            "header: the header names columns 2 and 3 'a'");
  EXPECT_EQ(resolve_error(csv_request(), std::vector<std::string>{"id", "", "a", "b"}, 4),
            "header: column 1 of the header has no name");

  SchemaRequest positions;
  positions.label = "0";
  positions.categorical = {"1", "x"};
  EXPECT_EQ(resolve_error(positions, std::nullopt, 2),
            "categorical: 'x' is not a column: without a header columns are named by their position, 0 to 1");
  positions.categorical = {"1"};
  EXPECT_EQ(resolve_error(positions, std::nullopt, 3),
            "ignore: column 2 '2' is not named by label, numeric, categorical, multi_hot or ignore (every "
            "column must be named once; ignore skips it)");

  SchemaRequest bad_numeric = positions;
  bad_numeric.numeric = {"2:sqrt"};
  EXPECT_EQ(resolve_error(bad_numeric, std::nullopt, 3),
            "numeric: '2:sqrt': the transform after ':' must be log1p or identity, got 'sqrt'");

  SchemaRequest multi = positions;
  multi.multi_hot = {"2"};
  EXPECT_EQ(resolve_error(multi, std::nullopt, 3), "multi_hot: '2' is not NAME:SEP[:MAX_LENGTH[:sum|mean]]");
  multi.multi_hot = {"2:ab"};
  EXPECT_EQ(resolve_error(multi, std::nullopt, 3),
            "multi_hot: '2:ab': the separator must be one character (or 'space'), got 'ab'");
  multi.multi_hot = {"2:|:0"};
  EXPECT_EQ(resolve_error(multi, std::nullopt, 3),
            "multi_hot: '2:|:0': the maximum length must be an integer in 1..65536, got '0'");
  multi.multi_hot = {"2:|:4:max"};
  EXPECT_EQ(resolve_error(multi, std::nullopt, 3),
            "multi_hot: '2:|:4:max': the pooling must be sum or mean, got 'max'");
  multi.multi_hot = {"2:a"};  // the schema's own rule on separators
  EXPECT_EQ(resolve_error(multi, std::nullopt, 3),
            "schema: column 2 (2): the separator must be one printable ASCII character that is not a letter, "
            "digit, '-', '\"' or the field delimiter");

  SchemaRequest only_label;
  only_label.label = "0";
  only_label.ignore = {"1"};
  EXPECT_EQ(resolve_error(only_label, std::nullopt, 2), "schema: the schema has no feature column");

  SchemaRequest header_unread = csv_request();
  EXPECT_EQ(resolve_error(header_unread, std::nullopt, std::nullopt), "header: the data's header line was not read");
}

TEST(SchemaRequest, SchemaFileIsTheWholeStatement) {
  test::TempDir dir;
  FeatureSchema stated = resolve_schema(csv_request(), kHeader, 4);
  stated.columns[2].rows = 64;
  const std::string path = dir.write("s.json", stated.to_json().dump());
  SchemaRequest r;
  r.schema_file = path;
  const FeatureSchema s = resolve_schema(r, std::nullopt, std::nullopt);
  EXPECT_EQ(s, stated);
  // hashing_for: the rows a column asked for, else rows_per_table.
  const HashingConfig h = hashing_for(s, 1000, 7);
  EXPECT_EQ(h.rows, (std::vector<uint32_t>{64, 1000}));
  EXPECT_EQ(h.salt, 7u);
  EXPECT_EQ(hashing_for(FeatureSchema::criteo(), 8, 1), HashingConfig::uniform(8, 1));

  for (const char* other : {"header", "label", "numeric", "categorical", "multi_hot", "ignore", "hex_ids"}) {
    SchemaRequest with = r;
    const std::string name = other;
    if (name == "header") with.header = true;
    if (name == "label") with.label = "y";
    if (name == "numeric") with.numeric = {"a"};
    if (name == "categorical") with.categorical = {"a"};
    if (name == "multi_hot") with.multi_hot = {"a:|"};
    if (name == "ignore") with.ignore = {"a"};
    if (name == "hex_ids") with.hex_ids = false;
    EXPECT_EQ(resolve_error(with, std::nullopt, std::nullopt),
              "schema: a schema file states every column and rule; " + name + " cannot be given with it");
  }
  SchemaRequest missing;
  missing.schema_file = dir.file("none.json");
  EXPECT_EQ(resolve_error(missing, std::nullopt, std::nullopt),
            "schema: " + dir.file("none.json") + ": cannot read the schema file");
  SchemaRequest bad;
  bad.schema_file = dir.write("bad.json", R"({"columns": [{"name": "y", "kind": "lable"}]})");
  EXPECT_NE(resolve_error(bad, std::nullopt, std::nullopt).find(bad.schema_file + ": columns[0].kind"),
            std::string::npos)
      << resolve_error(bad, std::nullopt, std::nullopt);
}

TEST(SchemaRequest, FilesGiveHeaderNamesAndFieldCount) {
  test::TempDir dir;
  const std::string csv = dir.write("d.csv", "id,y,a,b\r\n1,0,x,y\n");
  EXPECT_EQ(read_first_line(csv), "id,y,a,b");
  EXPECT_EQ(split_fields("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split_fields("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(resolve_schema_for_files(csv_request(), {csv}, ','), resolve_schema(csv_request(), kHeader, 4));
  // A folder: its first file by name (as convert reads it).
  const std::string folder = dir.file("folder");
  std::filesystem::create_directory(folder);
  std::ofstream(folder + "/b.csv") << "x,y\n";
  std::ofstream(folder + "/a.csv") << "id,y,a,b\n";
  std::ofstream(folder + "/.hidden") << "q\n";
  EXPECT_EQ(resolve_schema_for_files(csv_request(), {folder}, ','),
            resolve_schema(csv_request(), kHeader, 4));
  SchemaRequest wrong = csv_request();
  wrong.categorical = {"a", "c"};
  try {
    resolve_schema_for_files(wrong, {csv}, ',');
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), csv + ": categorical: 'c' is not a column of the header (id, y, a, b)");
  }
  // Without a header, the first line's field count.
  SchemaRequest positions;
  positions.label = "0";
  positions.categorical = {"1", "2"};
  try {
    resolve_schema_for_files(positions, {csv}, ',');
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), csv + ": ignore: column 3 '3' is not named by label, numeric, categorical, "
                                           "multi_hot or ignore (every column must be named once; ignore skips it)");
  }
  try {
    resolve_schema_for_files(csv_request(), {"-"}, ',');
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "header: the header names are read from the first file before the data, which '-' (standard input "
              "or a pipe) does not allow");
  }
}

TEST(SchemaRequest, StatedOptionsMustMatchAStoredSchema) {
  const FeatureSchema stored = resolve_schema(csv_request(), kHeader, 4);
  EXPECT_EQ(check_stated_schema(SchemaRequest{}, stored, "m.ckpt"), stored);
  EXPECT_EQ(check_stated_schema(csv_request(), stored, "m.ckpt"), stored);
  SchemaRequest other = csv_request();
  other.categorical = {"a"};
  other.numeric = {"b"};
  try {
    check_stated_schema(other, stored, "m.ckpt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "schema: m.ckpt has its own schema, which the stated one does not match: " +
                                         stored.first_difference(resolve_schema(other, kHeader, 4)));
    EXPECT_NE(std::string(e.what()).find("column 3"), std::string::npos) << e.what();
  }
  // A Criteo checkpoint: only --hex-ids (true) agrees.
  SchemaRequest hex;
  hex.hex_ids = true;
  EXPECT_EQ(check_stated_schema(hex, FeatureSchema::criteo(), "c.ckpt"), FeatureSchema::criteo());
  hex.hex_ids = false;
  EXPECT_THROW(check_stated_schema(hex, FeatureSchema::criteo(), "c.ckpt"), Error);
}

}  // namespace
}  // namespace shadowsync
