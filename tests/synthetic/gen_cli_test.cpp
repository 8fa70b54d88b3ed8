// Tests of `shadowsync gen` as a process: the summary it prints matches the JSON it writes,
// and bad options (--rows 0, negative values, no --out, unwritable path) fail with messages
// naming the option or file; one row reports NE as undefined; a failed write (file size limit)
// leaves the old files and no partial one. The executable's path comes in SHADOWSYNC_EXE (tests/synthetic/
// meson.build).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "../common/temp_paths.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

RunResult run_gen(const std::string& args) { return test::run_shadowsync("gen " + args); }

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_gen_cli", name); }

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

// One row has one label: NE (log loss over the label entropy) is undefined, not 685257.
TEST(GenCommand, TinyRowsReportTeacherNeAsUndefined) {
  const std::string out = temp_path("one.tsv");
  const RunResult r = run_gen("--rows 1 --seed 1 --out '" + out + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("teacher NE undefined (all 1 rows have label "), std::string::npos)
      << r.output;
  const SyntheticSummary s = read_synthetic_summary(out + ".json");
  EXPECT_TRUE(std::isnan(s.teacher_ne));
  std::ifstream json(out + ".json");
  const std::string text((std::istreambuf_iterator<char>(json)), {});
  EXPECT_NE(text.find("\"teacher_ne\": null"), std::string::npos) << text;
  std::filesystem::remove(out);
  std::filesystem::remove(out + ".json");
}

// A full disk (here: a file size limit, SIGXFSZ ignored so the write fails with EFBIG) leaves
// the old files as they were: no partial TSV, no temporary.
TEST(GenCommand, FailedWriteLeavesNoPartialFile) {
  const std::filesystem::path dir = temp_path("full");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string out = (dir / "data.tsv").string();
  std::ofstream(out) << "old data\n";
  std::ofstream(out + ".json") << "{}\n";
  const std::string command = "trap '' XFSZ; ulimit -f 64; '" + test::shadowsync_exe() +
                              "' gen --rows 20000 --out '" + out + "' 2>&1";
  const auto [exit_code, output] = test::run_shell_command(command);
  EXPECT_EQ(exit_code, 2) << output;
  EXPECT_NE(output.find(out), std::string::npos) << output;
  EXPECT_NE(output.find("write failed"), std::string::npos) << output;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "old data\n");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 2u);
  std::filesystem::remove_all(dir);
}

// --schema avazu: the preset's header and 13 fields; --schema FILE.json: a schema file's columns
// (CSV with --delimiter); the summary's NE is printed; bad files and flags name themselves.
TEST(GenCommand, SchemaPresetAndFile) {
  const std::string out = temp_path("avazu.tsv");
  RunResult r = run_gen("--rows 2000 --seed 3 --schema avazu --out '" + out + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const SyntheticSummary s = read_synthetic_summary(out + ".json");
  char expected[128];
  std::snprintf(expected, sizeof expected, "teacher NE %.5f", s.teacher_ne);
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  {
    std::ifstream in(out);
    std::string header;
    std::getline(in, header);
    EXPECT_EQ(header.rfind("id\tclick\tC1\t", 0), 0u) << header;
  }

  const std::string schema = temp_path("schema.json");
  std::ofstream(schema) << R"({"columns": [{"name": "y", "kind": "label"}, {"name": "a", "kind": "categorical"},
      {"name": "l", "kind": "multi_hot", "separator": "|", "max_length": 4}, {"name": "x", "kind": "numeric"}]})";
  const std::string csv = temp_path("file.csv");
  r = run_gen("--rows 100 --schema '" + schema + "' --delimiter , --out '" + csv + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(csv);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 3) << line;
  }
  EXPECT_EQ(lines, 100);

  r = run_gen("--rows 100 --schema '" + schema + "' --delimiter '|' --out '" + csv + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--schema " + schema + ": column 2 (l): the list separator is the field delimiter"),
            std::string::npos) << r.output;
  r = run_gen("--rows 100 --schema '" + temp_path("none.json") + "' --out '" + csv + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("none.json: cannot open the schema file"), std::string::npos) << r.output;
  r = run_gen("--rows 100 --delimiter , --out '" + csv + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--delimiter: Criteo's layout is tab-separated; give --schema"), std::string::npos) << r.output;
  for (const std::string& p : {out, csv}) {
    std::filesystem::remove(p);
    std::filesystem::remove(p + ".json");
  }
  std::filesystem::remove(schema);
}

}  // namespace
}  // namespace shadowsync
