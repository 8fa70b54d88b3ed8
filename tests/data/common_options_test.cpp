// The one rows-per-table range: the data library's check (rows_per_table_problem,
// checked_rows_per_table naming the field rows_per_table) and the CLI's shared --rows-per-table
// declaration (src/cli/common_options.hpp) that every data command uses.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cli/common_options.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {
namespace {

constexpr uint64_t kMax = uint64_t{1} << 30;

TEST(RowsPerTableRange, AcceptsTwoToTwoToTheThirty) {
  EXPECT_EQ(rows_per_table_problem(2, "2"), "");
  EXPECT_EQ(rows_per_table_problem(4096, "4096"), "");
  EXPECT_EQ(rows_per_table_problem(kMax, "1073741824"), "");
  EXPECT_EQ(checked_rows_per_table(2), 2u);
  EXPECT_EQ(checked_rows_per_table(kMax), 1u << 30);
}

TEST(RowsPerTableRange, RefusesOutsideNamingTheValueAsGiven) {
  EXPECT_EQ(rows_per_table_problem(1, "1"), "Value 1 not in range 2 to 1073741824");
  EXPECT_EQ(rows_per_table_problem(0, "0"), "Value 0 not in range 2 to 1073741824");
  EXPECT_EQ(rows_per_table_problem(kMax + 1, "1073741825"),
            "Value 1073741825 not in range 2 to 1073741824");
  EXPECT_EQ(rows_per_table_problem(4294967296u, "4294967296"),
            "Value 4294967296 not in range 2 to 1073741824");
  EXPECT_EQ(rows_per_table_problem(std::nullopt, "abc"), "Value abc not in range 2 to 1073741824");
}

std::string as_cli_flag(std::string_view name) {
  std::string flag = "--" + std::string(name);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

TEST(RowsPerTableRange, CheckedThrowsNamingTheField) {
  for (const uint64_t rows : {uint64_t{1}, kMax + 1}) {
    try {
      checked_rows_per_table(rows);
      FAIL() << rows;
    } catch (const Error& e) {
      const std::string problem = "Value " + std::to_string(rows) + " not in range 2 to 1073741824";
      EXPECT_EQ(std::string(e.what()), "rows_per_table: " + problem);
      EXPECT_EQ(e.message(as_cli_flag), "--rows-per-table: " + problem);
    }
  }
}

// Parses `args` (no program name) into a command that has only --rows-per-table.
std::optional<uint64_t> parse_rows(const std::string& args) {
  CLI::App app;
  std::optional<uint64_t> rows;
  cli::add_rows_per_table(app, rows, "rows of every table");
  app.parse(args, false);
  return rows;
}

// The error message of parsing `args` as the CLI prints it, or "" when it parses.
std::string parse_error(const std::string& args) {
  try {
    parse_rows(args);
  } catch (const Error& e) {
    return e.message(as_cli_flag);
  }
  return "";
}

TEST(AddRowsPerTable, StoresValuesInRangeAndNothingWhenAbsent) {
  EXPECT_EQ(parse_rows(""), std::nullopt);
  EXPECT_EQ(parse_rows("--rows-per-table 2"), 2u);
  EXPECT_EQ(parse_rows("--rows-per-table 1073741824"), kMax);
  EXPECT_EQ(parse_rows("--rows-per-table 4096"), 4096u);
}

TEST(AddRowsPerTable, RefusesOutsideTheRangeNamingTheOption) {
  // The run option table's message, as `train --rows-per-table` and Python's rows_per_table= say it.
  const std::string expects = "--rows-per-table expects an integer in [2, 1073741824], got ";
  EXPECT_EQ(parse_error("--rows-per-table 1"), expects + "1");
  EXPECT_EQ(parse_error("--rows-per-table 1073741825"), expects + "1073741825");
  EXPECT_EQ(parse_error("--rows-per-table 4294967296"), expects + "4294967296");
  EXPECT_EQ(parse_error("--rows-per-table abc"), expects + "'abc'");
  EXPECT_EQ(parse_error("--rows-per-table -3"), expects + "-3");
}

TEST(AddRowsPerTable, HelpShowsTheRange) {
  CLI::App app;
  std::optional<uint64_t> rows;
  cli::add_rows_per_table(app, rows, "rows of every table");
  const std::string help = app.help();
  EXPECT_NE(help.find("rows of every table (2 to 1073741824)"), std::string::npos) << help;
  EXPECT_NE(help.find("INT in [2, 1073741824]"), std::string::npos) << help;
}

}  // namespace
}  // namespace shadowsync
