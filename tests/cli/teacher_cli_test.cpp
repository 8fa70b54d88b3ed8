// Tests of the teacher's NE that `train` and `eval` report on generated data, as processes: on
// exactly the evaluated rows (the held-out tail of --data, all of --eval-data, all of eval's
// --data), found for the TSV and for its cache, in the final line and in --metrics / --json; and
// a summary that does not describe the data gives a warning and no teacher figure. The
// expected values come from score_synthetic_teacher on the labels read from the TSV text, and
// for whole files from the summary that `gen` wrote. The executable comes in SHADOWSYNC_EXE.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;
using test::RunResult;

constexpr int kRows = 3000;  // --eval-fraction 0.1: rows 2700 .. 2999 are evaluated

struct Fixture {
  fs::path dir;
  std::string data, cache, eval_data;
};

std::vector<float> labels_of(const std::string& tsv, size_t begin, size_t end) {
  std::ifstream in(tsv);
  std::vector<float> labels;
  std::string line;
  for (size_t n = 0; std::getline(in, line); ++n) {
    if (n >= begin && n < end) labels.push_back(line[0] == '1' ? 1.0f : 0.0f);
  }
  return labels;
}

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.dir = fs::temp_directory_path() / ("shadowsync_teacher_cli_" + std::to_string(::getpid()));
    fs::remove_all(x.dir);
    fs::create_directories(x.dir);
    x.data = (x.dir / "d.tsv").string();
    x.cache = (x.dir / "d.bin").string();
    x.eval_data = (x.dir / "e.tsv").string();
    EXPECT_EQ(test::run_shadowsync(fmt::format("gen --rows {} --seed 5 --out '{}'", kRows, x.data)).exit_code, 0);
    EXPECT_EQ(test::run_shadowsync(fmt::format("gen --rows 500 --seed 6 --out '{}'", x.eval_data)).exit_code, 0);
    EXPECT_EQ(test::run_shadowsync(fmt::format("convert '{}' '{}'", x.data, x.cache)).exit_code, 0);
    return x;
  }();
  return f;
}

std::string train_args(const std::string& data) {
  return fmt::format("train --data '{}' --model tiny --groups 1 --threads-per-group 1 --sync none --quiet", data);
}

nlohmann::json last_metrics_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last);
}

TEST(TeacherCli, TrainReportsTheTeacherOnTheHeldOutTail) {
  const Fixture& f = fixture();
  const TeacherScore expected = score_synthetic_teacher(5, 2700, labels_of(f.data, 2700, kRows));
  ASSERT_EQ(expected.rows, 300u);
  for (const std::string& data : {f.data, f.cache}) {  // the TSV, and its cache (d.tsv.json)
    const fs::path metrics = f.dir / "m.jsonl";
    const RunResult r = test::run_shadowsync(train_args(data) + " --metrics '" + metrics.string() + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(fmt::format("teacher on the same 300 rows: NE {:.5f}  logloss {:.5f}  (NE / teacher ",
                                        expected.ne, expected.logloss)),
              std::string::npos)
        << data << "\n" << r.output;
    const nlohmann::json final_line = last_metrics_line(metrics);
    EXPECT_EQ(final_line["event"], "final");
    const nlohmann::json& t = final_line["config"]["teacher"];
    EXPECT_EQ(t["first_row"], 2700);
    EXPECT_EQ(t["rows"], 300);
    EXPECT_EQ(t["positives"], expected.positives);
    EXPECT_NEAR(t["ne"].get<double>(), expected.ne, 1e-12);
    // Not the whole file's figure.
    EXPECT_NE(t["ne"].get<double>(), read_synthetic_summary(f.data + ".json").teacher_ne);
  }
}

TEST(TeacherCli, EvalDataAndEvalCommandUseTheWholeFile) {
  const Fixture& f = fixture();
  // A whole generated file: the teacher's NE is the summary's own (printed as gen prints it).
  const SyntheticSummary e = read_synthetic_summary(f.eval_data + ".json");
  const std::string expected = fmt::format("teacher on the same 500 rows: NE {:.5f}", e.teacher_ne);
  const fs::path checkpoint = f.dir / "c.ckpt";
  RunResult r = test::run_shadowsync(train_args(f.data) + " --eval-data '" + f.eval_data + "' --checkpoint '" +
                                     checkpoint.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;

  r = test::run_shadowsync(fmt::format("eval --checkpoint '{}' --data '{}'", checkpoint.string(), f.eval_data));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;

  r = test::run_shadowsync(fmt::format("eval --checkpoint '{}' --data '{}' --json", checkpoint.string(), f.eval_data),
                           false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["teacher"]["rows"], 500);
  EXPECT_EQ(j["teacher"]["first_row"], 0);
  EXPECT_NEAR(j["teacher"]["ne"].get<double>(), e.teacher_ne, 1e-12);
}

TEST(TeacherCli, ASummaryOfOtherDataWarnsAndReportsNoTeacher) {
  const Fixture& f = fixture();
  // Data without a summary: no teacher line, no warning.
  const fs::path plain = f.dir / "plain.tsv";
  fs::copy_file(f.data, plain, fs::copy_options::overwrite_existing);
  RunResult r = test::run_shadowsync(train_args(plain.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("teacher on the same"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;

  // The 3000 rows with the summary of the 500-row file: refused with a warning, training goes on.
  fs::copy_file(f.eval_data + ".json", plain.string() + ".json", fs::copy_options::overwrite_existing);
  r = test::run_shadowsync(train_args(plain.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("shadowsync: warning: no teacher NE for the evaluated rows: {}.json: describes "
                                      "500 generated rows, but {} has 3000 rows",
                                      plain.string(), plain.string())),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("teacher on the same"), std::string::npos) << r.output;

  // A summary with the right row count but another seed: the labels differ, refused naming a row.
  nlohmann::json other;
  std::ifstream(f.data + ".json") >> other;
  other["seed"] = 77;
  std::ofstream(plain.string() + ".json") << other.dump();
  r = test::run_shadowsync(train_args(plain.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("no teacher NE for the evaluated rows: " + plain.string() + " does not match " +
                          plain.string() + ".json: row "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("but the data generated with seed 77 has"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace shadowsync
