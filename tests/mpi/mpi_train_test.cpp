// Tests of `mpirun -np H shadowsync train` on localhost (the mpi front end): H processes train one
// model on disjoint row ranges (every row once) with NE close to one process of H groups; a clean
// run writes one checkpoint (rank 0) that `eval` reads and --metrics from rank 0 only; options a
// run across processes does not support are refused by name; kill -9 of one rank makes the run
// exit non-zero instead of hanging. SHADOWSYNC_EXE and the Open MPI root/oversubscribe variables
// come from tests/mpi/meson.build.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

const std::string& data_file() { return test::generated_data_file("shadowsync_mpi"); }
std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_mpi", name); }

const char* const kModel = " --model small --rows-per-table 4096 --quiet --oversubscribe --threads-per-group 1 ";

std::string mpirun(int processes) {
  return "mpirun -np " + std::to_string(processes) + " --oversubscribe --bind-to none ";
}

// `mpirun -np H shadowsync ARGS`, stdout and stderr together.
RunResult run_mpi(int processes, const std::string& args) {
  return test::run_shell_command(mpirun(processes) + "'" + test::shadowsync_exe() + "' " + args + " 2>&1");
}

double number_after(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) {
    ADD_FAILURE() << "no match for " << pattern << " in:\n" << text;
    return -1;
  }
  return std::stod(match[1].str());
}

TEST(MpiTrain, TwoProcessesTrainEveryRowOnceWithTheNEOfTwoGroups) {
  // 40,000 rows, 4,000 held out: 36,000 to train, 18,000 per process.
  std::vector<double> differences;
  for (int repeat = 0; repeat < 3; ++repeat) {
    // Model averaging on both sides (the rule this test was measured with; across processes the
    // default s-pa's rule is not implemented yet, see mpi/inter_host_round.cpp), synchronized
    // every 20 ms on both sides (the inter-host interval), so both sync at the same rate.
    const RunResult two = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --sync s-ma");
    ASSERT_EQ(two.exit_code, 0) << two.output;
    EXPECT_EQ(number_after(two.output, R"(across 2 processes: (\d+) examples trained)"), 36000) << two.output;
    EXPECT_EQ(number_after(two.output, R"(trained (\d+) examples in)"), 18000) << two.output;
    // Only rank 0 reports and evaluates.
    EXPECT_EQ(two.output.find("eval ("), two.output.rfind("eval (")) << two.output;
    EXPECT_NE(two.output.find("training small on 18000 rows (4000 held out)"), std::string::npos) << two.output;
    EXPECT_NE(two.output.find("training small on 18000 rows (0 held out)"), std::string::npos) << two.output;
    const RunResult one = test::run_shadowsync("train --data '" + data_file() + "'" + kModel + " --groups 2 --sync s-ma --sync-interval-ms 20");
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_EQ(number_after(one.output, R"(trained (\d+) examples in)"), 36000) << one.output;
    const double ne_two = number_after(two.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
    const double ne_one = number_after(one.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
    const double relative = (ne_two - ne_one) / ne_one;
    std::cout << "repeat " << repeat << ": NE 2 processes x 1 group " << ne_two << ", 1 process x 2 groups " << ne_one
              << ", relative difference " << 100 * relative << " %\n";
    // One Hogwild run's NE varies by about 1 % from run to run here (measured: 0.876 - 0.885 for
    // the one-process run): each pair within 2 %, their mean within 1 %.
    EXPECT_LT(std::abs(relative), 0.02);
    differences.push_back(relative);
  }
  const auto [low, high] = std::minmax_element(differences.begin(), differences.end());
  const double mean = (differences[0] + differences[1] + differences[2]) / 3;
  std::cout << "relative NE difference over 3 repeats: from " << 100 * *low << " % to " << 100 * *high
            << " %, mean " << 100 * mean << " %\n";
  EXPECT_LT(std::abs(mean), 0.01);
}

TEST(MpiTrain, ThreeProcessesWriteOneCheckpointThatEvalReads) {
  const std::string checkpoint = temp_path("three.ckpt");
  const std::string metrics = temp_path("three.jsonl");
  std::filesystem::remove(checkpoint);
  std::filesystem::remove(metrics);
  const RunResult r = run_mpi(3, "train --data '" + data_file() + "'" + kModel + " --groups 1 --checkpoint '" +
                                     checkpoint + "' --metrics '" + metrics + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number_after(r.output, R"(across 3 processes: (\d+) examples trained)"), 36000) << r.output;
  EXPECT_NE(r.output.find("checkpoint: " + checkpoint), std::string::npos) << r.output;
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  // Rank 0 alone writes the metrics: one final report.
  std::ifstream in(metrics);
  std::string line;
  int finals = 0;
  while (std::getline(in, line)) finals += line.find("\"final\"") != std::string::npos ? 1 : 0;
  EXPECT_EQ(finals, 1);
  const RunResult eval = test::run_shadowsync("eval --checkpoint '" + checkpoint + "' --data '" + data_file() + "'");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const double ne = number_after(eval.output, R"(examples 40000\s+NE ([0-9.]+))");
  EXPECT_GT(ne, 0.5);
  EXPECT_LT(ne, 1.0);
  std::filesystem::remove(checkpoint);
  std::filesystem::remove(metrics);
}

// The run's rule applies across hosts too (its name is in rank 0's last line).
TEST(MpiTrain, EasgdAndBmufRunAcrossProcesses) {
  for (const std::string rule : {"easgd", "bmuf"}) {
    const RunResult r = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --sync s-" + rule);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("across 2 processes: 36000 examples trained; inter-host sync (" + rule + ")"),
              std::string::npos)
        << r.output;
    const double ne = number_after(r.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
    EXPECT_GT(ne, 0.5) << rule;
    EXPECT_LT(ne, 1.0) << rule;
  }
}

TEST(MpiTrain, UnsupportedOptionsAreRefusedByName) {
  const RunResult r = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --eval-every 1000");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--eval-every is not supported yet in a run across 2 processes"), std::string::npos)
      << r.output;
}

// The pids of the processes whose parent is `parent` (from /proc).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text;
    std::getline(stat, text);
    const size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

struct Outcome {
  int status = 0;
  double seconds = 0;  // from the signal to mpirun's exit
  std::string output;
};

// Starts a long 2-process run, sends `signal` to rank `victim` once both train, and waits for
// mpirun (at most 120 s: a hang check; the time taken is reported, not asserted).
Outcome signal_one_rank(int signal, const std::string& mpirun_options) {
  Outcome outcome;
  const std::string log = temp_path("signalled.log");
  // Many epochs: the run would take minutes; the survivor must not wait for the other process.
  const std::string command = "exec " + mpirun(2) + mpirun_options + " '" + test::shadowsync_exe() +
                              "' train --data '" + data_file() + "'" + kModel + " --groups 1 --epochs 200 > '" + log +
                              "' 2>&1";
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (launcher <= 0) {
    ADD_FAILURE() << "fork failed";
    return outcome;
  }
  auto read_log = [&] {
    std::ifstream in(log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // Wait until both processes train (each prints its "training ..." line).
  std::vector<pid_t> ranks;
  for (int i = 0; i < 600; ++i) {
    const std::string text = read_log();
    size_t lines = 0;
    for (size_t at = text.find("training small"); at != std::string::npos; at = text.find("training small", at + 1)) {
      ++lines;
    }
    ranks = children_of(launcher);
    if (lines == 2 && ranks.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ranks.size(), 2u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const auto signalled_at = std::chrono::steady_clock::now();
  if (ranks.size() == 2) {
    EXPECT_EQ(::kill(ranks[1], signal), 0);
  }
  pid_t done = 0;
  for (int i = 0; i < 1200 && done == 0; ++i) {
    done = ::waitpid(launcher, &outcome.status, WNOHANG);
    if (done == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (done == 0) {
    ::kill(launcher, SIGKILL);
    for (const pid_t rank : ranks) ::kill(rank, SIGKILL);
    ::waitpid(launcher, &outcome.status, 0);
    ADD_FAILURE() << "mpirun still ran 120 s after the signal";
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled_at).count();
  outcome.output = read_log();
  std::filesystem::remove(log);
  return outcome;
}

TEST(MpiTrain, AKilledProcessMakesTheRunExitNonZero) {
  const Outcome o = signal_one_rank(SIGKILL, "");
  std::cout << "mpirun exited " << o.seconds << " s after kill -9 of one process\n";
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0) << "status " << o.status << "\n" << o.output;
}

// A process that stops answering (SIGSTOP: alive, so mpirun does not notice) makes the other's
// inter-host round time out: it names itself and aborts the job.
TEST(MpiTrain, AHangingProcessMakesTheOtherAbortAfterTheTimeout) {
  const Outcome o = signal_one_rank(SIGSTOP, "-x SHADOWSYNC_MPI_TIMEOUT_S=3");
  std::cout << "mpirun exited " << o.seconds << " s after SIGSTOP of one process (timeout 3 s)\n";
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0) << "status " << o.status << "\n" << o.output;
  EXPECT_NE(o.output.find("shadowsync: error: inter-host sync (rank 0 of 2): a round did not complete within the "
                          "timeout (a process died or hangs): timed out; aborting every process"),
            std::string::npos)
      << o.output;
}

TEST(MpiTrain, BadEnvironmentIsRefusedByName) {
  const RunResult r = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const RunResult bad = test::run_shell_command("SHADOWSYNC_MPI_TIMEOUT_S=soon " + mpirun(2) + " -x SHADOWSYNC_MPI_TIMEOUT_S '" +
                                                test::shadowsync_exe() + "' train --data '" + data_file() + "'" +
                                                kModel + " --groups 1 2>&1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("environment variable SHADOWSYNC_MPI_TIMEOUT_S: 'soon' is not a number in [0.1, 86400]"),
            std::string::npos)
      << bad.output;
}

}  // namespace
}  // namespace shadowsync
