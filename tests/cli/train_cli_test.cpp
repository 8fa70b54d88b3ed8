// Tests of `shadowsync train`, `eval` and `predict` as processes: bad command lines fail with a
// message naming the option or file; a run writes its checkpoint and metrics; eval and predict
// read the checkpoint; SIGINT stops a run with a checkpoint and exit code 130, and --resume
// finishes it. The executable's path comes in SHADOWSYNC_EXE (tests/cli/meson.build).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic.hpp"

namespace shadowsync {
namespace {

using test_support::RunResult;

std::string exe() { return test_support::shadowsync_exe(); }

RunResult run(const std::string& args) { return test_support::run_shadowsync(args); }

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("shadowsync_cli_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// One generated file for the whole binary.
const std::string& data_file() {
  static const std::string path = [] {
    const std::string p = temp_path("data.tsv");
    SyntheticOptions options;
    options.rows = 40000;
    options.seed = 5;
    generate_synthetic_criteo(options, p);
    return p;
  }();
  return path;
}

const char* const kSmall = " --model small --rows-per-table 4096 --quiet ";

TEST(TrainCommand, BadCommandLinesNameTheProblem) {
  struct Case {
    std::string args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"train", "--data is required"},
      {"train --data '" + data_file() + "' --sync bogus", "--sync: unknown mode 'bogus'; valid modes: s-ma, s-easgd"},
      {"train --data '" + data_file() + "' --groups zero", "--groups"},
      {"train --data '" + data_file() + "' --threads-per-group -3", "--threads-per-group"},
      {"train --data '" + data_file() + "' --group-by rack", "--group-by"},
      {"train --data '" + data_file() + "' --optimizer adam", "--optimizer"},
      {"train --data '" + data_file() + "' --model huge", "huge"},
      {"train --data '" + data_file() + "' --batch 0", "--batch"},
      {"train --data '" + data_file() + "' --eval-fraction 1.5", "--eval-fraction"},
      {"train --data /nonexistent/file.tsv", "/nonexistent/file.tsv"},
      {"train --data '" + data_file() + "' --sync s-ma --deterministic", "nondeterministic by nature"},
      {"train --data '" + data_file() + "' --eval-data '" + data_file() + "' --eval-fraction 0.2", "exclude each other"},
      {"train --data '" + data_file() + "' --topology 'package:x'", "--topology"},
      {"train --data '" + data_file() + "' --resume /nonexistent.ckpt", "/nonexistent.ckpt"},
      {"eval --checkpoint /nonexistent.ckpt --data '" + data_file() + "'", "/nonexistent.ckpt"},
      {"predict --checkpoint /nonexistent.ckpt --data '" + data_file() + "'", "--out is required"},
  };
  for (const Case& c : cases) {
    const RunResult r = run(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << c.args << "\n" << r.output;
  }
}

TEST(TrainCommand, EveryCommandHasHelp) {
  for (const char* command : {"train", "eval", "predict"}) {
    const RunResult r = run(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.output.find("--data"), std::string::npos) << r.output;
  }
}

TEST(TrainCommand, TrainsThenEvalAndPredictReadTheCheckpoint) {
  const std::string ckpt = temp_path("run.ckpt");
  const std::string metrics = temp_path("run.jsonl");
  const RunResult trained = run("train --data '" + data_file() + "'" + kSmall +
                                "--sync s-ma --topology 'package:2 core:1 pu:1' --checkpoint '" + ckpt +
                                "' --metrics '" + metrics + "' --eval-fraction 0.25");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("trained 30000 examples"), std::string::npos) << trained.output;
  EXPECT_NE(trained.output.find("eval (10000 examples): NE"), std::string::npos) << trained.output;

  std::ifstream lines(metrics);
  std::string line, last;
  while (std::getline(lines, line)) last = line;
  const nlohmann::json final_report = nlohmann::json::parse(last);
  EXPECT_EQ(final_report["event"], "final");
  EXPECT_EQ(final_report["examples"], 30000);

  const RunResult evaluated = run("eval --json --checkpoint '" + ckpt + "' --data '" + data_file() + "'");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json e = nlohmann::json::parse(evaluated.output.substr(evaluated.output.find('{')));
  EXPECT_EQ(e["examples"], 40000);
  EXPECT_LT(e["ne"].get<double>(), 1.0);
  EXPECT_GT(e["auc"].get<double>(), 0.6);

  const std::string out = temp_path("pred.txt");
  const RunResult predicted = run("predict --checkpoint '" + ckpt + "' --data '" + data_file() + "' --out '" + out + "'");
  ASSERT_EQ(predicted.exit_code, 0) << predicted.output;
  std::ifstream probabilities(out);
  size_t count = 0;
  double sum = 0;
  while (std::getline(probabilities, line)) {
    const double p = std::stod(line);
    EXPECT_GT(p, 0.0);
    EXPECT_LT(p, 1.0);
    sum += p;
    ++count;
  }
  EXPECT_EQ(count, 40000u);
  // The mean prediction is the eval's mean prediction (same model, same rows).
  EXPECT_NEAR(sum / static_cast<double>(count), e["mean_prediction"].get<double>(), 1e-5);
  std::filesystem::remove(ckpt);
  std::filesystem::remove(metrics);
  std::filesystem::remove(out);
}

TEST(TrainCommand, SigintWritesCheckpointAndResumeFinishes) {
  const std::string ckpt = temp_path("interrupted.ckpt");
  const std::string log = temp_path("interrupted.log");
  // Ten passes, so the run is still going when the signal arrives.
  const std::string args = "train --data '" + data_file() + "' --model small --rows-per-table 4096 --epochs 10 " +
                           "--sync s-ma --topology 'package:2 core:1 pu:1' --progress-seconds 0.05 --checkpoint '" +
                           ckpt + "' --eval-fraction 0.25";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string command = "exec '" + exe() + "' " + args + " > '" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait until training reports progress, then interrupt.
  bool started = false;
  for (int i = 0; i < 600 && !started; ++i) {
    ::usleep(50 * 1000);
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    started = text.find("progress:") != std::string::npos;
  }
  ASSERT_TRUE(started) << "training never reported progress";
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find("stopped by signal 2 at"), std::string::npos) << text;
  EXPECT_NE(text.find("checkpoint written to " + ckpt), std::string::npos) << text;
  ASSERT_TRUE(std::filesystem::exists(ckpt));

  const RunResult resumed = run(args + " --quiet --resume '" + ckpt + "'");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("trained 300000 examples"), std::string::npos) << resumed.output;
  std::filesystem::remove(ckpt);
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace shadowsync
