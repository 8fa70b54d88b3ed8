// Tests of `shadowsync gen` as a process: the summary it prints matches the JSON it writes,
// and bad options (--rows 0, negative values, no --out, unwritable path) fail with messages
// naming the option or file. The executable's path comes in SHADOWSYNC_EXE (tests/synthetic/
// meson.build).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic.hpp"

namespace shadowsync {
namespace {

using test_support::RunResult;

RunResult run_gen(const std::string& args) { return test_support::run_shadowsync("gen " + args); }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shadowsync_gen_cli_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(GenCommand, WritesDataAndPrintsSummary) {
  const std::string out = temp_path("ok.tsv");
  const RunResult r = run_gen("--rows 5000 --seed 9 --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const SyntheticSummary s = read_synthetic_summary(out + ".json");
  EXPECT_EQ(s.rows, 5000u);
  EXPECT_EQ(s.seed, 9u);
  char expected[128];
  std::snprintf(expected, sizeof expected, "positive rate %.4f, teacher log loss %.5f, teacher NE %.5f",
                s.positive_rate, s.teacher_logloss, s.teacher_ne);
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  EXPECT_EQ(std::filesystem::file_size(out) > 0, true);
  std::filesystem::remove(out);
  std::filesystem::remove(out + ".json");
}

TEST(GenCommand, BadOptionsFailNamingTheOption) {
  const std::string out = temp_path("bad.tsv");
  RunResult r = run_gen("--rows 0 --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--rows must be at least 1"), std::string::npos) << r.output;

  r = run_gen("--rows -5 --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--rows"), std::string::npos) << r.output;

  r = run_gen("--rows 10 --seed -1 --out '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--seed"), std::string::npos) << r.output;

  r = run_gen("--rows 10");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--out"), std::string::npos) << r.output;

  r = run_gen("--rows ten --out '" + out + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--rows"), std::string::npos) << r.output;

  const std::string unwritable = temp_path("no_such_dir") + "/x.tsv";
  r = run_gen("--rows 10 --out '" + unwritable + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(unwritable), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace shadowsync
