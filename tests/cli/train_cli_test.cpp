// Tests of `shadowsync train`, `eval` and `predict` as processes: bad command lines fail with a
// message naming the option or file; a run writes its checkpoint and metrics; eval and predict
// read the checkpoint; SIGINT stops a run with a checkpoint and exit code 130, and --resume
// finishes it. The executable's path comes in SHADOWSYNC_EXE (tests/cli/meson.build).
#include <gtest/gtest.h>

#include <iostream>
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

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"
#include "../common/sanitizers.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

std::string exe() { return test::shadowsync_exe(); }

RunResult run(const std::string& args) { return test::run_shadowsync(args); }

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_cli", name); }
// One generated file for the whole binary.
const std::string& data_file() { return test::generated_data_file("shadowsync_cli"); }

// Starts `shadowsync ARGS` in the background with stdout and stderr in `log`; returns its pid
// (-1 when fork fails), to be signalled and waited for by the caller.
pid_t start_shadowsync(const std::string& args, const std::string& log) {
  const pid_t child = ::fork();
  if (child == 0) {
    const std::string command = "exec '" + exe() + "' " + args + " > '" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

const char* const kSmall = " --model small --rows-per-table 4096 --quiet ";

// How many lines of `text` contain `needle`.
size_t count_lines_with(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    if (at == 0 || text[at - 1] == '\n') ++n;
  }
  return n;
}

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
      // --out is optional (standard output by default): the checkpoint is named instead.
      {"predict --checkpoint /nonexistent.ckpt --data '" + data_file() + "'", "/nonexistent.ckpt"},
      {"predict --data '" + data_file() + "'", "--checkpoint is required"},
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
  // One core per group: no spare processing unit for the sync thread, so the pacing chosen from
  // the plan is progress pacing, said once at the start and carried by the summary.
  EXPECT_NE(trained.output.find("shadow sync: no spare processing unit for the sync thread, rounds paced by training "
                                "progress: one per 4 iterations of each group (--sync-round-iterations; "
                                "--sync-interval-ms 0 runs them back to back)\n"),
            std::string::npos)
      << trained.output;
  EXPECT_NE(trained.output.find("(paced at one round per 4 iterations)"), std::string::npos) << trained.output;

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
  const pid_t child = start_shadowsync(args, log);
  ASSERT_GE(child, 0);
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

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A binary cache of the generated data, made once.
const std::string& cache_file() {
  static const std::string path = [] {
    const std::string p = temp_path("data.bin");
    const RunResult r = run("convert '" + data_file() + "' '" + p + "'");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return p;
  }();
  return path;
}

TEST(TrainCommand, OptionRangesHaveShortClearMessages) {
  struct Case {
    std::string option;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"--batch 0", "--batch expects an integer in [1, 1048576], got 0"},
      {"--batch 2147483647", "--batch expects an integer in [1, 1048576], got 2147483647"},
      {"--batch 99999999999999999999999", "--batch expects an integer in [1, 1048576], got 99999999999999999999999"},
      {"--progress-seconds -1", "--progress-seconds expects a number >= 0, got -1"},
      {"--progress-seconds nan", "--progress-seconds expects a number >= 0, got nan"},
      {"--progress-seconds inf", "--progress-seconds expects a number >= 0, got inf"},
      {"--eval-fraction 1", "--eval-fraction expects a number in [0, 1), got 1"},
      {"--rows-per-table 1073741824 --model small", "not enough memory: this run needs about"},
  };
  for (const Case& c : cases) {
    const RunResult r = run("train --data '" + data_file() + "' " + c.option);
    EXPECT_NE(r.exit_code, 0) << c.option << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.option << "\n" << r.output;
    EXPECT_LT(r.output.size(), 400u) << "a short message, not a range with hundreds of digits:\n" << r.output;
  }
}

// Inside a memory cgroup whose limit is below what the run needs, train refuses up front with
// a message naming the limit instead of being killed by the kernel later. Needs root and the
// cgroup-v1 memory controller (skipped otherwise).
TEST(TrainCommand, RefusesARunLargerThanItsCgroupMemoryLimit) {
  const std::filesystem::path group =
      "/sys/fs/cgroup/memory/shadowsync_test_" + std::to_string(::getpid());
  if (test::kSanitizedBuild) GTEST_SKIP() << "a sanitizer's own memory does not fit the 64 MiB limit";
  std::error_code ec;
  if (::geteuid() != 0 || !std::filesystem::create_directory(group, ec)) {
    GTEST_SKIP() << "needs root and a writable cgroup-v1 memory controller (/sys/fs/cgroup/memory)";
  }
  std::ofstream(group / "memory.limit_in_bytes") << (64 << 20);
  const RunResult r = test::run_shell_command(
      "sh -c 'echo $$ > " + (group / "cgroup.procs").string() + "; exec \"$0\" \"$@\"' '" +
      test::shadowsync_exe() + "' train --data '" + data_file() + "' --model kaggle --rows-per-table 200000 2>&1");
  std::filesystem::remove(group, ec);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not enough memory: this run needs about"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(this process's cgroup memory limit of 0.06 GiB, less "), std::string::npos) << r.output;
}

TEST(TrainCommand, EvalFractionZeroTrainsOnEveryRowWithoutEvaluation) {
  const RunResult r = run("train --data '" + data_file() + "'" + kSmall + "--sync none --groups 1 --eval-fraction 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("on 40000 rows (0 held out)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained 40000 examples"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("eval ("), std::string::npos) << r.output;
}

TEST(TrainCommand, RefusesOutputsThatAreInputs) {
  const std::string cache = cache_file();
  const std::string cache_before = file_bytes(cache);
  const std::string tsv_before = file_bytes(data_file());
  ASSERT_FALSE(cache_before.empty());
  const RunResult metrics = run("train --data '" + cache + "'" + kSmall + "--metrics '" + cache + "'");
  EXPECT_EQ(metrics.exit_code, 2) << metrics.output;
  EXPECT_NE(metrics.output.find("--metrics '" + cache + "' is the same file as --data"), std::string::npos)
      << metrics.output;
  const RunResult ckpt = run("train --data '" + data_file() + "'" + kSmall + "--checkpoint '" + data_file() + "'");
  EXPECT_EQ(ckpt.exit_code, 2) << ckpt.output;
  EXPECT_NE(ckpt.output.find("--checkpoint '" + data_file() + "' is the same file as --data"), std::string::npos)
      << ckpt.output;
  const RunResult eval = run("train --data '" + data_file() + "' --eval-data '" + cache + "'" + kSmall +
                             "--checkpoint '" + cache + "'");
  EXPECT_EQ(eval.exit_code, 2) << eval.output;
  EXPECT_NE(eval.output.find("is the same file as --eval-data"), std::string::npos) << eval.output;
  EXPECT_EQ(file_bytes(cache), cache_before) << "the cache was modified";
  EXPECT_EQ(file_bytes(data_file()), tsv_before) << "the data was modified";
}

// Paths need not be UTF-8: the configuration they appear in is still written to the metrics
// file and the checkpoint header (invalid bytes replaced), never an internal error.
TEST(TrainCommand, NonUtf8PathsAreWrittenIntoMetricsAndCheckpoints) {
  const std::string topology = temp_path("topology-\xff.xml");
  std::filesystem::copy_file(std::string(NUMA_TOPOLOGIES_DIR) + "/2socket.xml", topology,
                             std::filesystem::copy_options::overwrite_existing);
  const std::string metrics = temp_path("metrics-\xfe.jsonl");
  const std::string ckpt = temp_path("run-\xfd.ckpt");
  const RunResult r = run("train --data '" + data_file() + "'" + kSmall + "--topology '" + topology +
                          "' --threads-per-group 1 --metrics '" + metrics + "' --checkpoint '" + ckpt + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
  EXPECT_NE(file_bytes(metrics).find("\"event\":\"final\""), std::string::npos);
  const RunResult e = run("eval --checkpoint '" + ckpt + "' --data '" + data_file() + "' --json");
  EXPECT_EQ(e.exit_code, 0) << e.output;
  for (const std::string& p : {topology, metrics, ckpt, ckpt + ".lock"}) std::filesystem::remove(p);
}

// Every failure while workers run or are parked ends with one message and exit 2, never
// std::terminate, and leaves the last good checkpoint in place.
TEST(TrainCommand, FailuresWhileTrainingStopCleanlyWithOneMessage) {
  const std::string base = "train --data '" + data_file() + "'" + kSmall + "--topology 'package:2 core:1 pu:1' ";
  // A --metrics write that fails (the device is full) at the first report.
  const RunResult metrics = run("train --data '" + data_file() + "' --model small --rows-per-table 4096 "
                                "--topology 'package:2 core:1 pu:1' --sync s-ma --metrics /dev/full --progress-seconds 0.01");
  EXPECT_EQ(metrics.exit_code, 2) << metrics.output;
  EXPECT_NE(metrics.output.find("shadowsync: error: --metrics: write to '/dev/full' failed"), std::string::npos)
      << metrics.output;
  // A periodic checkpoint that cannot be written (no files can be created in /proc).
  const RunResult ckpt = run(base + "--sync fr-ma --checkpoint /proc/shadowsync-test.ckpt --checkpoint-every 3000");
  EXPECT_EQ(ckpt.exit_code, 2) << ckpt.output;
  EXPECT_NE(ckpt.output.find("shadowsync: error: "), std::string::npos) << ckpt.output;
  EXPECT_NE(ckpt.output.find("/proc/shadowsync-test.ckpt"), std::string::npos) << ckpt.output;
  // A run that diverges while --eval-every evaluates with the workers parked. One deterministic
  // worker and an absurd learning rate, so that it diverges on every run (two Hogwild workers at
  // --lr 3 sometimes saturated instead).
  const RunResult diverged = run("train --data '" + data_file() + "'" + kSmall +
                                 "--sync none --groups 1 --threads-per-group 1 --deterministic --optimizer sgd --lr 1e20 "
                                 "--eval-every 128 --eval-fraction 0.005");
  EXPECT_EQ(diverged.exit_code, 2) << diverged.output;
  EXPECT_NE(diverged.output.find("shadowsync: error: training diverged"), std::string::npos) << diverged.output;
  for (const RunResult* r : {&metrics, &ckpt, &diverged}) {
    EXPECT_EQ(r->output.find("terminate"), std::string::npos) << r->output;
  }
}

// A learning rate that makes the loss explode without overflowing (exit 0 with NE 4.1e9 before):
// exit 2, naming the example count and both learning rates, and no checkpoint of it.
TEST(TrainCommand, ALossThatExplodesIsDivergenceAndWritesNoCheckpoint) {
  const std::string checkpoint = temp_path("exploded.ckpt");
  const RunResult r = run("train --data '" + data_file() + "' --model tiny --rows-per-table 4096 --quiet --lr 1e6 "
                          "--sync none --groups 1 --checkpoint '" + checkpoint + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("shadowsync: error: training diverged at about "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("lower --lr (now 1e+06) / --emb-lr (now 0.05)"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(checkpoint)) << r.output;
  EXPECT_FALSE(std::filesystem::exists(checkpoint + ".lock")) << r.output;
}

// Without --rows-per-table a text file's tables are sized to its data: 1,999 rows of `small`
// write a checkpoint of a few MB (233 MB at the preset's 131,072 rows per table before).
TEST(TrainCommand, TablesAreSizedToTheDataByDefault) {
  const std::string small = temp_path("1999.tsv");
  SyntheticOptions options;
  options.rows = 1999;
  options.seed = 8;
  generate_synthetic_criteo(options, small);
  const std::string checkpoint = temp_path("sized.ckpt");
  const RunResult r = run("train --data '" + small + "' --model small --quiet --sync none --groups 1 --checkpoint '" +
                          checkpoint + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tables sized to the data: "), std::string::npos) << r.output;
  const uintmax_t bytes = std::filesystem::file_size(checkpoint);
  std::cout << "checkpoint of 1,999 rows: " << bytes << " bytes\n";
  EXPECT_LT(bytes, 8u << 20) << r.output;
  EXPECT_FALSE(std::filesystem::exists(checkpoint + ".lock")) << "a clean run removes its lock file";
  // eval and predict read the model with its own sizes.
  const RunResult e = run("eval --checkpoint '" + checkpoint + "' --data '" + small + "'");
  EXPECT_EQ(e.exit_code, 0) << e.output;
  std::filesystem::remove(checkpoint);
  std::filesystem::remove(small);
}

// Held-out rows of one class: NE and AUC are undefined, and the summary says so (it printed NE 13
// or 735 before).
TEST(TrainCommand, OneClassHeldOutRowsLeaveNeUndefined) {
  const std::string zeros = temp_path("zeros.tsv");
  {
    std::ifstream in(data_file());
    std::ofstream out(zeros);
    std::string line;
    for (int i = 0; i < 5000 && std::getline(in, line); ++i) out << '0' << line.substr(1) << '\n';
  }
  const RunResult r = run("train --data '" + zeros + "'" + kSmall + "--sync none --groups 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("eval (500 examples): NE undefined (the evaluated rows are all of one class)  logloss "),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("AUC undefined"), std::string::npos) << r.output;
  std::filesystem::remove(zeros);
}

// One socket and --groups auto: one group, no sync rounds; the run says how to see shadow sync.
TEST(TrainCommand, AOneGroupRunSaysHowToSeeShadowSync) {
  const RunResult r = run("train --data '" + data_file() + "'" + kSmall + "--topology 'package:1 core:1 pu:1' --max-examples 2000");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("one group (one socket here): no sync rounds; pass --groups 2 to see shadow sync"),
            std::string::npos)
      << r.output;
  const RunResult two = run("train --data '" + data_file() + "'" + kSmall +
                            "--topology 'package:1 core:2 pu:1' --groups 2 --max-examples 2000");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(two.output.find("pass --groups 2"), std::string::npos) << two.output;
}

// --eval-fraction alone evaluates along the run (8 times by default), and epochs past the best
// held-out NE end with a warning naming the best epoch: 2,000 rows, a tiny model and 30
// deterministic epochs overfit (best NE at epoch 4 here); one epoch cannot warn (the best must
// come an epoch or more before the end).
TEST(TrainCommand, EpochsPastTheBestHeldOutNeEndWithAWarningNamingTheEpoch) {
  const std::string small_data = temp_path("overfit.tsv");
  ASSERT_EQ(run("gen --rows 2000 --seed 4 --out '" + small_data + "'").exit_code, 0);
  const std::string args = "train --data '" + small_data +
                           "' --model tiny --eval-fraction 0.3 --deterministic --sync none --groups 1 --threads-per-group 1";
  const RunResult long_run = run(args + " --epochs 30");
  ASSERT_EQ(long_run.exit_code, 0) << long_run.output;
  // Seven along the run and the final one.
  EXPECT_EQ(count_lines_with(long_run.output, "eval at "), 7u) << long_run.output;
  EXPECT_EQ(count_lines_with(long_run.output, "eval (600 examples): "), 1u) << long_run.output;
  const size_t warning = long_run.output.find("warning: held-out NE rose from ");
  ASSERT_NE(warning, std::string::npos) << long_run.output;
  EXPECT_NE(long_run.output.find(" overfit; --epochs ", warning), std::string::npos) << long_run.output;
  EXPECT_NE(long_run.output.find(" stops near the best model", warning), std::string::npos) << long_run.output;
  const RunResult short_run = run(args + " --epochs 1");
  ASSERT_EQ(short_run.exit_code, 0) << short_run.output;
  EXPECT_EQ(short_run.output.find("held-out NE rose"), std::string::npos) << short_run.output;
  std::remove(small_data.c_str());
  std::remove((small_data + ".json").c_str());
}

// A worker that cannot allocate its buffers (its thread throws): the error is carried out of the
// thread, every thread is joined, and the message names --batch. The address-space limit makes
// the workers' allocations fail on any machine (on a small one the up-front memory check may
// refuse the run first, also naming --batch).
TEST(TrainCommand, AWorkerThatCannotAllocateEndsTheRunWithOneMessage) {
  if (test::kSanitizedBuild) {
    GTEST_SKIP() << "a sanitizer runtime cannot start under ulimit -v (it reserves terabytes of address space)";
  }
  const std::string command = "ulimit -v 3000000; exec '" + exe() + "' train --data '" + data_file() + "'" + kSmall +
                              "--sync none --groups 1 --batch 1048576 2>&1";
  const auto [exit_code, output] = test::run_shell_command(command);
  EXPECT_EQ(exit_code, 2) << output;
  EXPECT_NE(output.find("shadowsync: error: "), std::string::npos) << output;
  EXPECT_NE(output.find("--batch 1048576"), std::string::npos) << output;
  EXPECT_EQ(output.find("terminate"), std::string::npos) << output;
}

TEST(TrainCommand, ResumingAFinishedRunSaysThereIsNothingToDo) {
  const std::string ckpt = temp_path("finished.ckpt");
  const std::string args = "train --data '" + data_file() + "'" + kSmall + "--sync none --groups 1 --checkpoint '" + ckpt + "'";
  ASSERT_EQ(run(args).exit_code, 0);
  const std::string before = file_bytes(ckpt);
  const RunResult again = run(args + " --resume '" + ckpt + "'");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("is finished (36000 of 36000 examples done); nothing left to do"), std::string::npos)
      << again.output;
  EXPECT_EQ(file_bytes(ckpt), before) << "the checkpoint must be left as it was";
  std::filesystem::remove(ckpt);
}

// Two or three SIGINTs in quick succession, at random moments (during training, the final
// evaluation or the checkpoint): the first stops the run, the others are reported and ignored;
// the process always exits 130 with a complete checkpoint, never aborts.
TEST(TrainCommand, RepeatedSigintsAtRandomMomentsAlwaysLeaveACheckpoint) {
  const std::string ckpt = temp_path("signals.ckpt");
  const std::string log = temp_path("signals.log");
  // A large evaluation (the whole file) so that signals often land in the final evaluation.
  const std::string args = "train --data '" + data_file() + "' --eval-data '" + data_file() +
                           "' --model small --rows-per-table 4096 --epochs 10 --sync s-ma "
                           "--topology 'package:2 core:1 pu:1' --progress-seconds 0.05 --checkpoint '" + ckpt + "'";
  std::srand(static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::filesystem::remove(ckpt);
    // The previous attempt's log says "progress:" too: without this, a child slow to start could
    // be signalled before it has installed its signal handling.
    std::filesystem::remove(log);
    const pid_t child = start_shadowsync(args, log);
    ASSERT_GE(child, 0);
    bool started = false;
    for (int i = 0; i < 600 && !started; ++i) {
      ::usleep(20 * 1000);
      started = file_bytes(log).find("progress:") != std::string::npos;
    }
    ASSERT_TRUE(started) << "training never reported progress";
    ::usleep(static_cast<useconds_t>(std::rand() % 300) * 1000);
    ::kill(child, SIGINT);
    const int repeats = 1 + attempt % 2;
    for (int k = 0; k < repeats; ++k) {
      ::usleep(static_cast<useconds_t>(20 + std::rand() % 250) * 1000);
      ::kill(child, SIGINT);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    const std::string text = file_bytes(log);
    ASSERT_TRUE(WIFEXITED(status)) << "attempt " << attempt << ": killed by signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "\n" << text;
    EXPECT_EQ(WEXITSTATUS(status), 130) << text;
    EXPECT_NE(text.find("stopped by signal 2 at"), std::string::npos) << text;
    EXPECT_NE(text.find("checkpoint written to " + ckpt), std::string::npos) << text;
    EXPECT_EQ(text.find("corrupted"), std::string::npos) << text;
    const RunResult evaluated = run("eval --checkpoint '" + ckpt + "' --data '" + data_file() + "'");
    EXPECT_EQ(evaluated.exit_code, 0) << evaluated.output;
  }
  std::filesystem::remove(ckpt);
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace shadowsync
