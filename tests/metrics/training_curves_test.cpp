// Tests of the training curves (metrics JSON lines -> curves -> gnuplot PNG): what is read from
// the lines, the legend (sync mode and groups, else the file name), refusals naming file:line, an
// output that is an input, a missing gnuplot, and a real picture (PNG signature, size).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shadowsync/metrics/training_curves.hpp"
#include "../common/temp_paths.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test (tests/common/temp_paths.hpp).
struct Folder : test::TempDir {
  Folder() : test::TempDir("shadowsync_curves") {}
};

// Two progress lines, an eval line, a progress line with nulls, a final line.
const char* kRun =
    R"({"event": "progress", "examples": 1000, "examples_per_second": 5000.5, "running_logloss": 0.61, "ne": null, "auc": null, "groups": [{}, {}], "config": {"sync": "s-pa", "groups": "auto"}})"
    "\n"
    R"({"event": "progress", "examples": 2000, "examples_per_second": 6000, "running_logloss": 0.55, "ne": null, "auc": null, "groups": [{}, {}], "config": {"sync": "s-pa", "groups": "auto"}})"
    "\n\n"
    R"({"event": "eval", "examples": 2000, "examples_per_second": 6000, "running_logloss": 0.55, "ne": 0.93, "auc": 0.71, "eval": {"ne": 0.93}, "groups": [{}, {}], "config": {"sync": "s-pa", "groups": "auto"}})"
    "\n"
    R"({"event": "progress", "examples": 2500, "examples_per_second": null, "running_logloss": null, "groups": [{}, {}]})"
    "\n"
    R"({"event": "final", "examples": 3000, "examples_per_second": 6100, "running_logloss": 0.5, "ne": null, "auc": null, "eval": {"ne": null}, "groups": [{}, {}], "config": {"sync": "s-pa", "groups": "auto"}})"
    "\n";

TEST(TrainingCurves, ReadsEvalAndProgressLines) {
  const Folder dir;
  const RunCurves run = read_metrics_curves(dir.write("run.jsonl", kRun));
  EXPECT_EQ(run.label, "s-pa, 2 groups (run.jsonl)");
  ASSERT_EQ(run.eval_ne.size(), 2u);  // the eval line and the final line
  EXPECT_EQ(run.eval_ne[0].examples, 2000);
  EXPECT_EQ(run.eval_ne[0].value, 0.93);
  EXPECT_EQ(run.eval_auc[0].value, 0.71);
  EXPECT_EQ(run.eval_ne[1].examples, 3000);
  EXPECT_FALSE(run.eval_ne[1].value.has_value());  // null: NE undefined at the end
  // Every line with a running log loss or a rate: 1000, 2000, 2000 (eval), 3000 (final); the
  // line of nulls at 2500 adds nothing.
  ASSERT_EQ(run.train_logloss.size(), 4u);
  ASSERT_EQ(run.throughput.size(), 4u);
  EXPECT_EQ(run.train_logloss[1].value, 0.55);
  EXPECT_EQ(run.train_logloss[3].examples, 3000);
  EXPECT_EQ(run.train_logloss[3].value, 0.5);
  EXPECT_EQ(run.throughput[0].value, 5000.5);
  EXPECT_EQ(run.throughput[3].value, 6100);
  // A rate at 0 examples is no measurement.
  const RunCurves start = read_metrics_curves(
      dir.write("start.jsonl", R"({"event": "progress", "examples": 0, "examples_per_second": 0, "running_logloss": null})" "\n"));
  EXPECT_TRUE(start.throughput.empty());
}

TEST(TrainingCurves, LegendFallsBackToGroupsOfTheConfigAndToTheFileName) {
  const Folder dir;
  EXPECT_EQ(read_metrics_curves(dir.write("one.jsonl", R"({"event": "progress", "examples": 5, "config": {"sync": "fr-ma", "groups": 1}})" "\n")).label,
            "fr-ma, 1 group (one.jsonl)");
  EXPECT_EQ(read_metrics_curves(dir.write("bare.jsonl", R"({"event": "progress", "examples": 5})" "\n")).label,
            "bare.jsonl");
}

TEST(TrainingCurves, MalformedLinesAreRefusedNamingFileAndLine) {
  const Folder dir;
  const std::string bad = dir.write("bad.jsonl", std::string(kRun) + "{\"event\": \"eval\", \n");
  try {
    read_metrics_curves(bad);
    FAIL() << "accepted a line that is not JSON";
  } catch (const CurvesInputError& e) {
    // kRun has 6 lines (one blank), so the bad one is line 7.
    EXPECT_EQ(std::string(e.what()), bad + ":7: not a metrics line (a JSON object per line, as written by training's "
                                           "metrics output)");
  }
  const std::string typed = dir.write("typed.jsonl", R"({"event": "eval", "examples": 5, "ne": "low"})" "\n");
  EXPECT_THROW(
      {
        try {
          read_metrics_curves(typed);
        } catch (const CurvesInputError& e) {
          EXPECT_EQ(std::string(e.what()), typed + R"(:1: "ne" must be a number or null, got "low")");
          throw;
        }
      },
      CurvesInputError);
  const std::string no_examples = dir.write("noex.jsonl", R"({"event": "eval"})" "\n[1, 2]\n");
  try {
    read_metrics_curves(no_examples);
    FAIL();
  } catch (const CurvesInputError& e) {
    EXPECT_EQ(std::string(e.what()), no_examples + ":1: no \"examples\" number");
  }
  EXPECT_THROW(read_metrics_curves(dir.write("empty.jsonl", "\n\n")), CurvesInputError);
  EXPECT_THROW(read_metrics_curves(dir.write("beyond.jsonl", R"({"examples": 1e999})" "\n")), CurvesInputError);
  try {
    read_metrics_curves((dir.path() / "missing.jsonl").string());
    FAIL();
  } catch (const CurvesInputError&) {
    FAIL() << "a missing file is not a malformed line";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.jsonl: cannot read"), std::string::npos) << e.what();
  }
}

// Lines that carry "running_ne" give the training panel in NE (column 4 of the progress data);
// files written before lines carried it keep the running log loss panel.
TEST(TrainingCurves, TrainingPanelIsNEWhenTheLinesCarryIt) {
  const Folder dir;
  const RunCurves with_ne = read_metrics_curves(dir.write(
      "ne.jsonl",
      R"({"event": "progress", "examples": 1000, "examples_per_second": 10, "running_logloss": 0.5, "running_ne": 0.9})" "\n"
      R"({"event": "progress", "examples": 2000, "examples_per_second": 10, "running_logloss": 0.4, "running_ne": null})" "\n"));
  ASSERT_EQ(with_ne.train_ne.size(), 2u);
  EXPECT_EQ(with_ne.train_ne[0].value, 0.9);
  EXPECT_FALSE(with_ne.train_ne[1].value.has_value());
  const RunCurves old = read_metrics_curves(dir.write("old.jsonl", kRun));
  ASSERT_EQ(old.train_ne.size(), old.train_logloss.size());
  EXPECT_FALSE(old.train_ne[0].value.has_value());

  const std::string both = curves_gnuplot_script({with_ne, old}, "/d", "/o.png");
  EXPECT_NE(both.find("set title 'training NE (running, lower is better)'"), std::string::npos) << both;
  EXPECT_NE(both.find("'/d/run0_progress.dat' using 1:4"), std::string::npos) << both;
  EXPECT_EQ(both.find("training log loss"), std::string::npos) << both;
  const std::string only_old = curves_gnuplot_script({old}, "/d", "/o.png");
  EXPECT_NE(only_old.find("set title 'training log loss (running mean)'"), std::string::npos) << only_old;
  EXPECT_EQ(only_old.find("using 1:4"), std::string::npos) << only_old;

  write_curve_data({with_ne}, dir.path().string());
  std::ifstream progress(fs::path(dir.path()) / "run0_progress.dat");
  const std::string data((std::istreambuf_iterator<char>(progress)), std::istreambuf_iterator<char>());
  EXPECT_EQ(data, "1000 0.5 10 0.9\n2000 0.4 10 ?\n");
}

TEST(TrainingCurves, ScriptQuotesLabelsSafely) {
  RunCurves run;
  run.label = "it's\nset output '/etc/x'";
  run.eval_ne = {{1, 0.9}};
  run.eval_auc = {{1, 0.7}};
  const std::string script = curves_gnuplot_script({run}, "/d", "/o.png");
  EXPECT_NE(script.find("title 'it''s?set output ''/etc/x'''"), std::string::npos) << script;
  // Panels without values say so instead of failing in gnuplot.
  EXPECT_NE(script.find("no values in these runs"), std::string::npos);
}

TEST(TrainingCurves, OutputThatIsAnInputIsRefused) {
  const Folder dir;
  const std::string run = dir.write("run.jsonl", kRun);
  try {
    plot_training_curves({run}, run);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the output picture is one of the metrics files"), std::string::npos);
  }
  EXPECT_EQ(fs::file_size(run), std::string(kRun).size());  // untouched
}

TEST(TrainingCurves, MissingGnuplotIsNamed) {
  const Folder dir;
  const std::string run = dir.write("run.jsonl", kRun);
  try {
    plot_training_curves({run}, (dir.path() / "out.png").string(), (dir.path() / "no-such-gnuplot").string());
    FAIL();
  } catch (const CurvesToolError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run " + (dir.path() / "no-such-gnuplot").string() + ": No such file"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("gnuplot-nox"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(dir.path() / "out.png"));
}

TEST(TrainingCurves, DrawsAPngOfTwoRuns) {
  const Folder dir;
  const std::string a = dir.write("a.jsonl", kRun);
  std::string other = kRun;
  for (size_t at = other.find("s-pa"); at != std::string::npos; at = other.find("s-pa", at)) other.replace(at, 4, "fr-ma");
  const std::string b = dir.write("b.jsonl", other);
  const std::string out = (dir.path() / "curves.png").string();
  plot_training_curves({a, b}, out);
  std::ifstream in(out, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(fs::file_size(out), 20000u);
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace shadowsync
