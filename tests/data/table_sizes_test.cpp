// Tests of tables_sized_from_stats_json / _file (data/table_sizes.hpp): the sizes equal
// tables_sized_for of the counted rows, the salt is kept, and every malformed field is refused
// with the source and the field named.
#include "shadowsync/data/table_sizes.hpp"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

// Statistics as `stats --json` writes them (the fields the reader looks at, and a few others).
nlohmann::json stats(uint32_t rows_per_table, const std::array<uint64_t, kNumSparse>& distinct, uint64_t salt = 0) {
  nlohmann::json j;
  j["rows"] = 1000;
  j["hashing"] = {{"rows_per_table", std::vector<uint32_t>(kNumSparse, rows_per_table)}, {"salt", salt}};
  for (int t = 0; t < kNumSparse; ++t) j["sparse"].push_back({{"distinct_rows", distinct[t]}, {"missing_share", 0.1}});
  return j;
}

std::string error_of(const std::string& text) {
  try {
    tables_sized_from_stats_json(text, "s.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(TableSizes, SizesAreThoseOfTheCountedRowsAndTheSaltIsKept) {
  std::array<uint64_t, kNumSparse> distinct{};
  for (int t = 0; t < kNumSparse; ++t) distinct[t] = static_cast<uint64_t>(t) * 37;
  distinct[5] = 600;  // more than half of 1024: the table keeps its size
  const HashingConfig sized = tables_sized_from_stats_json(stats(1024, distinct, 9).dump(), "s.json");
  EXPECT_EQ(sized, tables_sized_for(distinct, HashingConfig::uniform(1024, 9)));
  EXPECT_EQ(sized.salt, 9u);
  EXPECT_EQ(sized.rows[0], HashingConfig::kMinRowsPerTable);  // 0 rows used
  EXPECT_EQ(sized.rows[1], 128u);             // 37 used: 2 x 37 + 1 = 75 -> 128
  EXPECT_EQ(sized.rows[5], 1024u);
}

TEST(TableSizes, TheFileIsReadAndAMissingOneIsNamed) {
  const std::string path = (std::filesystem::temp_directory_path() / "shadowsync_table_sizes.json").string();
  std::array<uint64_t, kNumSparse> distinct{};
  distinct.fill(3);
  std::ofstream(path) << stats(64, distinct).dump(2);
  EXPECT_EQ(tables_sized_from_stats_file(path), tables_sized_for(distinct, HashingConfig::uniform(64)));
  std::filesystem::remove(path);
  try {
    tables_sized_from_stats_file(path);
    FAIL() << "accepted a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "'" + path + "': cannot open: No such file or directory");
  }
}

TEST(TableSizes, EveryMalformedFieldIsRefusedWithItsName) {
  std::array<uint64_t, kNumSparse> distinct{};
  distinct.fill(10);
  const nlohmann::json good = stats(64, distinct);
  EXPECT_EQ(error_of("not json"), "'s.json': not JSON (the data statistics are a JSON object)");
  EXPECT_EQ(error_of("[]"), "'s.json': not the data statistics (no 'hashing' object and 'sparse' field)");
  nlohmann::json j = good;
  j.erase("sparse");
  EXPECT_EQ(error_of(j.dump()), "'s.json': not the data statistics (no 'hashing' object and 'sparse' field)");
  j = good;
  j["hashing"].erase("rows_per_table");
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.rows_per_table' must be an array of one entry per table");
  j = good;
  j["sparse"].erase(25);
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'sparse' must be an array of 26 entries");
  j = good;
  j["hashing"]["rows_per_table"][2] = 1;
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.rows_per_table[2]': Value 1 not in range 2 to 1073741824");
  j = good;
  j["hashing"]["rows_per_table"][2] = -64;
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.rows_per_table[2]' must be a non-negative integer");
  j = good;
  j["hashing"]["rows_per_table"][2] = 64.5;
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.rows_per_table[2]' must be a non-negative integer");
  j = good;
  j["sparse"][7].erase("distinct_rows");
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'sparse[7].distinct_rows' is missing");
  j = good;
  j["sparse"][7]["distinct_rows"] = "10";
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'sparse[7].distinct_rows' must be a non-negative integer");
  j = good;
  j["sparse"][7]["distinct_rows"] = 64;
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'sparse[7].distinct_rows' (64) must be less than the table's 64 rows");
  j = good;
  j["hashing"]["salt"] = -1;
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.salt' must be a non-negative integer");
}

// Statistics of another schema: one entry per table of it (3 here), named in errors.
TEST(TableSizes, TablesOfAnySchema) {
  nlohmann::json j;
  j["hashing"] = {{"rows_per_table", {1024, 1024, 64}}, {"salt", 9}};
  j["sparse"] = {{{"name", "site"}, {"distinct_rows", 100}},
                 {{"name", "app"}, {"distinct_rows", 3}},
                 {{"name", "tags"}, {"distinct_rows", 10}}};
  const HashingConfig h = tables_sized_from_stats_json(j.dump(), "s.json");
  EXPECT_EQ(h.rows, (std::vector<uint32_t>{256, 8, 32}));
  EXPECT_EQ(h.salt, 9u);
  j["sparse"][2]["distinct_rows"] = 64;
  EXPECT_EQ(error_of(j.dump()),
            "'s.json': field 'sparse[2].distinct_rows' (64) must be less than the 64 rows of table tags");
  j["sparse"].erase(2);
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'sparse' must be an array of 3 entries");
  j["hashing"]["rows_per_table"] = nlohmann::json::array();
  EXPECT_EQ(error_of(j.dump()), "'s.json': field 'hashing.rows_per_table' must be an array of one entry per table");
}

}  // namespace
}  // namespace shadowsync
