// Tests of `shadowsync convert` and `shadowsync stats` as processes: the cache written by
// convert equals the parsed rows, the summary and JSON statistics match values computed here,
// and bad options / files fail with messages naming them. The executable's path comes in
// SHADOWSYNC_EXE (tests/data/meson.build).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "../common/run_command.hpp"
#include "shadowsync/binary_cache.hpp"
#include "shadowsync/criteo_reader.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test_support::RunResult;

RunResult run(const std::string& args, bool merge = true) { return test_support::run_shadowsync(args, merge); }

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t i = 0; i < 400; ++i) {
      text_ += testing::format_line(testing::pattern_line(i)) + "\n";
      if (i == 99) text_ += "1\t\t\tx\n";  // line 101 is bad
    }
    tsv_ = dir_.write("in.tsv", text_);
  }
  testing::TempDir dir_;
  std::string text_;
  std::string tsv_;
};

TEST_F(CliTest, ConvertWritesTheParsedRows) {
  const std::string cache = dir_.file("out.cache");
  const RunResult r = run("convert '" + tsv_ + "' '" + cache + "' --rows-per-table 777 --hash-salt 9");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(tsv_ + ": 400 rows from 401 lines, 1 bad lines skipped"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find(tsv_ + ":101: I3 (field 4): 'x' is not an integer"), std::string::npos);
  EXPECT_NE(r.output.find("MB/s"), std::string::npos);
  ParseOptions o;
  o.hashing = HashingConfig::uniform(777, 9);
  const DataBlock parsed = parse_criteo_text(text_, "x", o);
  const MappedCache mapped = MappedCache::open(cache, o.hashing);
  ASSERT_EQ(mapped.rows(), 400u);
  EXPECT_EQ(std::memcmp(mapped.view().sparse, parsed.sparse(), 400 * kNumSparse * 4), 0);
  EXPECT_EQ(std::memcmp(mapped.view().dense, parsed.dense(), 400 * kNumDense * 4), 0);
  EXPECT_EQ(std::memcmp(mapped.view().labels, parsed.labels(), 400 * 4), 0);
}

TEST_F(CliTest, ConvertErrors) {
  const std::string out = dir_.file("o.cache");
  RunResult r = run("convert '" + tsv_ + "' '" + out + "' --strict");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(tsv_ + ":101: I3 (field 4): 'x' is not an integer"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
  r = run("convert '" + tsv_ + "' '" + out + "' --rows-per-table 1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
  r = run("convert '" + tsv_ + "' '" + out + "' --rows-per-table 4294967296");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
  r = run("convert '" + tsv_ + "' '" + out + "' --hash-salt -1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--hash-salt"), std::string::npos) << r.output;
  r = run("convert '" + dir_.file("none.tsv") + "' '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(dir_.file("none.tsv") + ": cannot open"), std::string::npos);
  r = run("convert '" + tsv_ + "' '" + dir_.file("no/dir/x") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("cannot create"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(CliTest, StatsJsonMatchesTheData) {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(50);
  ParseReport report;
  const DataBlock parsed = parse_criteo_text(text_, "x", o, &report);
  const std::string cache = dir_.file("s.cache");
  write_cache(cache, parsed.view(), o.hashing, report.dense_missing);
  for (const std::string& file : {tsv_, cache}) {
    const RunResult r = run("stats '" + file + "' --rows-per-table 50 --json", false);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["file"], file);
    EXPECT_EQ(j["format"], file == cache ? "cache" : "tsv");
    EXPECT_EQ(j["rows"], 400);
    EXPECT_EQ(j["bad_lines"], file == cache ? 0 : 1);
    // pattern_line: label 1 when i % 3 == 0 -> 134 of 400.
    EXPECT_DOUBLE_EQ(j["positive_rate"].get<double>(), 134.0 / 400.0);
    for (int f = 0; f < kNumDense; ++f) {
      double sum = 0, max = 0;
      for (size_t i = 0; i < 400; ++i) {
        const float x = parsed.dense()[i * kNumDense + f];
        sum += x;
        max = std::max<double>(max, x);
      }
      const nlohmann::json& d = j["dense"][f];
      EXPECT_NEAR(d["mean"].get<double>(), sum / 400, 1e-9) << f;
      EXPECT_DOUBLE_EQ(d["max"].get<double>(), max) << f;
      EXPECT_DOUBLE_EQ(d["missing_share"].get<double>(), report.dense_missing[f] / 400.0) << f;
    }
    for (int t = 0; t < kNumSparse; ++t) {
      std::set<uint32_t> used;
      int missing = 0;
      for (size_t i = 0; i < 400; ++i) {
        const uint32_t row = parsed.sparse()[i * kNumSparse + t];
        if (row == 0) ++missing; else used.insert(row);
      }
      const nlohmann::json& s = j["sparse"][t];
      EXPECT_EQ(s["name"].get<std::string>(), fmt::format("C{}", t + 1));
      EXPECT_EQ(s["distinct_rows"].get<size_t>(), used.size()) << t;
      EXPECT_DOUBLE_EQ(s["missing_share"].get<double>(), missing / 400.0) << t;
      EXPECT_DOUBLE_EQ(s["used_share"].get<double>(), used.size() / 49.0) << t;
    }
  }
}

TEST_F(CliTest, StatsTextAndErrors) {
  RunResult r = run("stats '" + tsv_ + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("positive rate 0.3350"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("I13"), std::string::npos);
  EXPECT_NE(r.output.find("C26"), std::string::npos);
  const std::string cache = dir_.file("c.cache");
  ASSERT_EQ(run("convert '" + tsv_ + "' '" + cache + "'").exit_code, 0);
  r = run("stats '" + cache + "' --rows-per-table 1000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(cache + ": cache was hashed with rows per table 131072"),
            std::string::npos) << r.output;
  r = run("stats '" + dir_.path().string() + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is a directory"), std::string::npos);
  r = run("stats '" + tsv_ + "' --rows-per-table abc");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows-per-table"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace shadowsync
