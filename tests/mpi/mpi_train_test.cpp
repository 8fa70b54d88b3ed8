// Tests of `mpirun -np H shadowsync train` on localhost (the mpi front end): H processes train one
// model on disjoint row ranges (every row once) with NE close to one process of H groups; a clean
// run writes one checkpoint (rank 0) that `eval` reads, a part per other process, and --metrics
// from rank 0 only with every process's figures; periodic checkpoints and evaluations, resume with
// the same H (another H refused naming both); deterministic foreground runs give the same bits;
// the --host-* options are validated by name and the old environment variables refused; kill -9
// of one rank makes the run exit non-zero instead of hanging. SHADOWSYNC_EXE and the Open MPI root/oversubscribe variables
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

#include <nlohmann/json.hpp>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

const std::string& data_file() { return test::generated_data_file("shadowsync_mpi"); }
std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_mpi", name); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The JSON lines of a --metrics file.
std::vector<nlohmann::json> metrics_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Removes a checkpoint, its parts (checkpoint.host-R-of-K) and their lock files.
void remove_checkpoint(const std::string& path) {
  const std::filesystem::path p(path);
  for (const auto& entry : std::filesystem::directory_iterator(p.parent_path())) {
    if (entry.path().filename().string().rfind(p.filename().string(), 0) == 0) std::filesystem::remove(entry.path());
  }
}

const char* const kModel = " --model small --rows-per-table 4096 --quiet --oversubscribe --threads-per-group 1 ";

std::string mpirun(int processes) {
  return "mpirun -np " + std::to_string(processes) + " --oversubscribe --bind-to none ";
}

// How often `needle` occurs in `text`.
size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
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
    // Model averaging on both sides (the rule this test was measured with), synchronized every
    // 20 ms on both sides (the inter-host interval), so both sync at the same rate.
    const RunResult two = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --sync s-ma");
    ASSERT_EQ(two.exit_code, 0) << two.output;
    EXPECT_EQ(number_after(two.output, R"(across 2 processes: (\d+) examples trained)"), 36000) << two.output;
    EXPECT_EQ(number_after(two.output, R"(trained (\d+) examples in)"), 18000) << two.output;
    // Only rank 0 reports and evaluates.
    EXPECT_EQ(two.output.find("eval ("), two.output.rfind("eval (")) << two.output;
    EXPECT_NE(two.output.find("training small on 18000 rows (4000 held out)"), std::string::npos) << two.output;
    // The other process prints no header of its own (nor its data's reading summary).
    EXPECT_EQ(two.output.find("training small on 18000 rows (0 held out)"), std::string::npos) << two.output;
    EXPECT_NE(two.output.find(" rows from "), std::string::npos) << two.output;
    EXPECT_EQ(two.output.find(" rows from "), two.output.rfind(" rows from ")) << two.output;
    const RunResult one = test::run_shadowsync("train --data '" + data_file() + "'" + kModel + " --groups 2 --sync s-ma --sync-interval-ms 20");
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_EQ(number_after(one.output, R"(trained (\d+) examples in)"), 36000) << one.output;
    const double ne_two = number_after(two.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
    const double ne_one = number_after(one.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
    const double relative = (ne_two - ne_one) / ne_one;
    std::cout << "repeat " << repeat << ": NE 2 processes x 1 group " << ne_two << ", 1 process x 2 groups " << ne_one
              << ", relative difference " << 100 * relative << " %\n";
    // One Hogwild run's NE varies by about 1 % from run to run here (measured: 0.876 - 0.885 for
    // the one-process run), and two processes were mostly above one process of two groups (each
    // process has its own embedding tables, averaged every 20 ms, where the groups of one process
    // share theirs). Measured over 15 pairs on the 2-core machine (5 runs of this test, loaded and
    // not): -0.38 % to +1.68 % per pair, means +0.08 % to +1.15 %. So each pair within 3 % and
    // their mean within 2 %.
    EXPECT_LT(std::abs(relative), 0.03);
    differences.push_back(relative);
  }
  const auto [low, high] = std::minmax_element(differences.begin(), differences.end());
  const double mean = (differences[0] + differences[1] + differences[2]) / 3;
  std::cout << "relative NE difference over 3 repeats: from " << 100 * *low << " % to " << 100 * *high
            << " %, mean " << 100 * mean << " %\n";
  EXPECT_LT(std::abs(mean), 0.02);
}

TEST(MpiTrain, ThreeProcessesWriteOneCheckpointThatEvalReadsAndEveryProcessFigures) {
  const std::string checkpoint = temp_path("three.ckpt");
  const std::string metrics = temp_path("three.jsonl");
  remove_checkpoint(checkpoint);
  std::filesystem::remove(metrics);
  const RunResult r = run_mpi(3, "train --data '" + data_file() + "'" + kModel + " --groups 1 --checkpoint '" +
                                     checkpoint + "' --metrics '" + metrics + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number_after(r.output, R"(across 3 processes: (\d+) examples trained)"), 36000) << r.output;
  EXPECT_NE(r.output.find("checkpoint: " + checkpoint), std::string::npos) << r.output;
  ASSERT_TRUE(std::filesystem::exists(checkpoint));
  // Every other process writes its part (its progress, for resume).
  EXPECT_TRUE(std::filesystem::exists(checkpoint + ".host-1-of-3"));
  EXPECT_TRUE(std::filesystem::exists(checkpoint + ".host-2-of-3"));
  // Rank 0 alone writes the metrics: one final report, then one line of every process's figures.
  const std::vector<nlohmann::json> lines = metrics_lines(metrics);
  int finals = 0;
  for (const nlohmann::json& line : lines) finals += line.value("event", "") == "final" ? 1 : 0;
  EXPECT_EQ(finals, 1);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json& hosts = lines.back();
  EXPECT_EQ(hosts.at("event"), "hosts");
  EXPECT_EQ(hosts.at("processes"), 3);
  ASSERT_EQ(hosts.at("hosts").size(), 3u);
  for (int h = 0; h < 3; ++h) {
    const nlohmann::json& host = hosts.at("hosts").at(h);
    EXPECT_EQ(host.at("rank"), h);
    EXPECT_EQ(host.at("examples"), 12000) << host;  // rows [hN/3, (h+1)N/3) of 36,000
    EXPECT_GT(host.at("examples_per_second").get<double>(), 0) << host;
    EXPECT_GE(host.at("inter_host_rounds").get<uint64_t>(), 1u) << host;
    EXPECT_GT(host.at("inter_host_bytes_per_round").get<double>(), 0) << host;
    EXPECT_GT(host.at("inter_host_round_ms").get<double>(), 0) << host;
    EXPECT_TRUE(host.contains("sync_rounds")) << host;
  }
  EXPECT_EQ(hosts.at("totals").at("examples"), 36000);
  const double rate_sum = hosts["hosts"][0]["examples_per_second"].get<double>() +
                          hosts["hosts"][1]["examples_per_second"].get<double>() +
                          hosts["hosts"][2]["examples_per_second"].get<double>();
  EXPECT_DOUBLE_EQ(hosts.at("totals").at("examples_per_second").get<double>(), rate_sum);
  EXPECT_EQ(hosts.at("totals").at("inter_host_rounds"), hosts["hosts"][0]["inter_host_rounds"]);
  // The hosts' models differ between rounds (each trains its own rows) by a small distance (it can
  // be 0 when the last round found every host unchanged since the one before).
  const double divergence = hosts.at("totals").at("divergence_between_hosts").get<double>();
  EXPECT_GE(divergence, 0.0);
  EXPECT_LT(divergence, 1.0);
  for (int h = 0; h < 3; ++h) EXPECT_GE(hosts["hosts"][h].at("distance_to_mean").get<double>(), 0.0);
  const RunResult eval = test::run_shadowsync("eval --checkpoint '" + checkpoint + "' --data '" + data_file() + "'");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const double ne = number_after(eval.output, R"(examples 40000\s+NE ([0-9.]+))");
  EXPECT_GT(ne, 0.5);
  EXPECT_LT(ne, 1.0);
  remove_checkpoint(checkpoint);
  std::filesystem::remove(metrics);
}

// --checkpoint-every and --eval-every under mpirun, a run stopped by --max-examples (per process)
// and resumed with the same number of processes: every process continues its own rows, so the
// resumed run ends with every row trained once; another number of processes is refused.
TEST(MpiTrain, PeriodicCheckpointsEvaluationsAndResumeWithTheSameProcesses) {
  const std::string checkpoint = temp_path("periodic.ckpt");
  const std::string metrics = temp_path("periodic.jsonl");
  remove_checkpoint(checkpoint);
  const RunResult first = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --checkpoint '" +
                                         checkpoint + "' --checkpoint-every 3000 --eval-every 3000 --max-examples "
                                         "9000 --metrics '" + metrics + "'");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  // Each process stops after about 9,000 of its 18,000 rows (whole batches of 128).
  const double stopped = number_after(first.output, R"(across 2 processes: (\d+) examples trained)");
  EXPECT_GE(stopped, 18000) << first.output;
  EXPECT_LT(stopped, 18600) << first.output;
  // Periodic checkpoints by rank 0 (the model file) and by rank 1 (its part).
  const auto periodic = [&](const std::string& path) {
    return std::regex_search(first.output, std::regex("checkpoint at [0-9]+ examples: " +
                                                      std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                                                      "\n"));
  };
  EXPECT_TRUE(periodic(checkpoint)) << first.output;
  EXPECT_TRUE(periodic(checkpoint + ".host-1-of-2")) << first.output;
  int evaluations = 0;
  for (const nlohmann::json& line : metrics_lines(metrics)) {
    if (line.value("event", "") != "eval") continue;
    ++evaluations;
    EXPECT_GT(line.at("eval").at("ne").get<double>(), 0.5) << line;
    EXPECT_LT(line.at("eval").at("ne").get<double>(), 1.5) << line;
  }
  // Rank 0 evaluates at 3,072 and 6,016 of its 9,088 examples (the first batch at or past 3,000 and
  // 6,000), however late its coordinator looks.
  EXPECT_EQ(evaluations, 2) << first.output;
  EXPECT_NE(first.output.find("eval at 3072 examples"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("eval at 6016 examples"), std::string::npos) << first.output;
  // The checkpoint of the stopped run is a normal one: eval reads it.
  const RunResult eval = test::run_shadowsync("eval --checkpoint '" + checkpoint + "' --data '" + data_file() + "'");
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NE(eval.output.find("examples 40000"), std::string::npos) << eval.output;

  const RunResult refused = run_mpi(3, "train --data '" + data_file() + "'" + kModel + " --groups 1 --resume '" +
                                           checkpoint + "'");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--resume '" + checkpoint + "': the checkpoint was written by a run across 2 "
                                "processes, this run has 3"),
            std::string::npos)
      << refused.output;

  const RunResult resumed = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --checkpoint '" +
                                           checkpoint + "' --resume '" + checkpoint + "'");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  // The step count continues: each process ends at its 18,000 rows, 36,000 across both.
  EXPECT_EQ(number_after(resumed.output, R"(across 2 processes: (\d+) examples trained)"), 36000) << resumed.output;
  EXPECT_EQ(number_after(resumed.output, R"(trained (\d+) examples in)"), 18000) << resumed.output;
  const double ne = number_after(resumed.output, R"(eval \(4000 examples\): NE ([0-9.]+))");
  EXPECT_GT(ne, 0.5);
  EXPECT_LT(ne, 1.0);
  // Resuming the finished run again: nothing left to do on any process, and a clean exit.
  const RunResult again = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --resume '" +
                                         checkpoint + "'");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("the run in this checkpoint is finished (18000 of 18000 examples done)"),
            std::string::npos)
      << again.output;
  remove_checkpoint(checkpoint);
  std::filesystem::remove(metrics);
}

// --deterministic with a foreground rule: the hosts train alone and are averaged in one final
// round, in a fixed order; two runs write the same bits (rank 0's checkpoint and rank 1's part).
TEST(MpiTrain, DeterministicForegroundRunsGiveTheSameBits) {
  const std::string checkpoint = temp_path("det.ckpt");
  std::vector<std::string> models, parts;
  for (int run = 0; run < 2; ++run) {
    remove_checkpoint(checkpoint);
    const RunResult r = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 2 --sync fr-ma "
                                   "--deterministic --checkpoint '" + checkpoint + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(number_after(r.output, R"(across 2 processes: (\d+) examples trained)"), 36000) << r.output;
    models.push_back(read_file(checkpoint));
    parts.push_back(read_file(checkpoint + ".host-1-of-2"));
    ASSERT_GT(models.back().size(), 1000u);
  }
  EXPECT_TRUE(models[0] == models[1]) << "rank 0's checkpoints differ";
  EXPECT_TRUE(parts[0] == parts[1]) << "rank 1's parts differ";
  // After the final round both processes hold the same model: the parts differ from rank 0's
  // file only in the header (rows, progress).
  remove_checkpoint(checkpoint);
}

// --init-from under mpirun: every process starts from the one trained model (rank 0's copied
// to all), counts its examples anew and records the chain in its checkpoint part.
TEST(MpiTrain, ProcessesStartFromOneTrainedModelWithInitFrom) {
  const std::string day1 = temp_path("init_day1.ckpt");
  const std::string day2 = temp_path("init_day2.ckpt");
  remove_checkpoint(day1);
  remove_checkpoint(day2);
  const RunResult first = test::run_shell_command("'" + test::shadowsync_exe() + "' train --data '" + data_file() + "'" +
                                                  kModel + " --groups 1 --max-examples 9000 --checkpoint '" + day1 +
                                                  "' 2>&1");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const RunResult r = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --init-from '" + day1 +
                                     "' --checkpoint '" + day2 + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(number_after(r.output, R"(across 2 processes: (\d+) examples trained)"), 36000) << r.output;
  EXPECT_EQ(count_of(r.output, "started from: " + day1 + " ("), 1u) << r.output;
  for (const std::string& file : {day2, day2 + ".host-1-of-2"}) {
    const std::string bytes = read_file(file);
    EXPECT_NE(bytes.find("\"init_chain\""), std::string::npos) << file;
  }
  remove_checkpoint(day1);
  remove_checkpoint(day2);
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
Outcome signal_one_rank(int signal, const std::string& train_options) {
  Outcome outcome;
  const std::string log = temp_path("signalled.log");
  // Many epochs: the run would take minutes; the survivor must not wait for the other process.
  const std::string command = "exec " + mpirun(2) + " '" + test::shadowsync_exe() + "' train --data '" + data_file() +
                              "'" + kModel + " --groups 1 --epochs 200 " + train_options + " > '" + log + "' 2>&1";
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
  // Wait until both processes train: rank 0 prints its "training ..." line once every process
  // has opened its data and compared it (a collective), and both processes exist.
  std::vector<pid_t> ranks;
  for (int i = 0; i < 600; ++i) {
    const std::string text = read_log();
    size_t lines = 0;
    for (size_t at = text.find("training small"); at != std::string::npos; at = text.find("training small", at + 1)) {
      ++lines;
    }
    ranks = children_of(launcher);
    if (lines == 1 && ranks.size() == 2) break;
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
  const Outcome o = signal_one_rank(SIGSTOP, "--host-sync-timeout-s 3");
  std::cout << "mpirun exited " << o.seconds << " s after SIGSTOP of one process (timeout 3 s)\n";
  EXPECT_TRUE(WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0) << "status " << o.status << "\n" << o.output;
  EXPECT_NE(o.output.find("shadowsync: error: inter-host sync (rank 0 of 2): a round did not complete within the "
                          "timeout (a process died or hangs): timed out; aborting every process"),
            std::string::npos)
      << o.output;
}

// A long 2-process run, by default with the default table size (131,072 rows: a 233 MB checkpoint per
// process), started in the background; returns mpirun's pid once rank 0 trains.
pid_t start_long_run(const std::string& checkpoint, const std::string& log, const std::string& extra = "",
                     int rows_per_table = 131072, const std::string& mpirun_options = "") {
  const std::string command = "exec " + mpirun(2) + mpirun_options + " '" + test::shadowsync_exe() + "' train --data '" + data_file() +
                              "' --model small --rows-per-table " + std::to_string(rows_per_table) + " --quiet --oversubscribe --threads-per-group 1 "
                              "--groups 1 --epochs 200 " + extra + " --checkpoint '" + checkpoint + "' > '" + log + "' 2>&1";
  const pid_t launcher = ::fork();
  if (launcher == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 600; ++i) {
    if (read_file(log).find("training small") != std::string::npos && children_of(launcher).size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  return launcher;
}

// Waits at most `seconds` for mpirun; kills it (and fails) after that. Returns its status.
int wait_for_mpirun(pid_t launcher, int seconds) {
  int status = 0;
  for (int i = 0; i < seconds * 10; ++i) {
    if (::waitpid(launcher, &status, WNOHANG) == launcher) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (const pid_t rank : children_of(launcher)) ::kill(rank, SIGKILL);
  ::kill(launcher, SIGKILL);
  ::waitpid(launcher, &status, 0);
  ADD_FAILURE() << "mpirun still ran " << seconds << " s later";
  return status;
}

// Ctrl-C to mpirun: Open MPI sends SIGCONT, SIGTERM odls_base_sigkill_timeout seconds later and
// SIGKILL as long after that. Every process stops at the SIGCONT, skips the final evaluation and
// writes its 233 MB checkpoint: both parts are whole (eval reads the model), no temporary or lock
// is left. The timeout is 5 s here, so that the test does not depend on the machine's speed, and
// both parts must have been written before the SIGTERM would even be sent (their modification
// times): a process that began its stop only at the SIGTERM (the earlier behaviour) fails that.
// (mpirun itself waits out its sequence: it exited about 8 s after SIGINT.) (With the default 1 s, measured: mpirun exited
// 2.01-2.13 s after SIGINT with both parts whole, also under load; docs/multi-host.md.)
TEST(MpiTrain, CtrlCToMpirunKeepsALoadableCheckpointOfDefaultSizedTables) {
  const std::string checkpoint = temp_path("ctrlc.ckpt"), log = temp_path("ctrlc.log");
  remove_checkpoint(checkpoint);
  const pid_t launcher = start_long_run(checkpoint, log, "", 131072, "--mca odls_base_sigkill_timeout 5 ");
  const auto signalled = std::chrono::steady_clock::now();
  const auto signalled_file_time = std::filesystem::file_time_type::clock::now();
  ASSERT_EQ(::kill(launcher, SIGINT), 0);
  wait_for_mpirun(launcher, 120);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  std::cout << "mpirun exited " << seconds << " s after SIGINT\n";
  const std::string output = read_file(log);
  EXPECT_NE(output.find("stopped by signal 15 at "), std::string::npos) << output;
  EXPECT_EQ(output.find("eval ("), std::string::npos) << "no final evaluation on a stop\n" << output;
  EXPECT_EQ(output.find("note: on Ctrl-C"), std::string::npos) << "233 MB fit a 10 s window\n" << output;
  const std::string part = checkpoint + ".host-1-of-2";
  ASSERT_TRUE(std::filesystem::exists(checkpoint)) << output;
  ASSERT_TRUE(std::filesystem::exists(part)) << output;
  for (const std::string& file : {checkpoint, part}) {
    const double written_after =
        std::chrono::duration<double>(std::filesystem::last_write_time(file) - signalled_file_time).count();
    std::cout << file << " written " << written_after << " s after SIGINT\n";
    EXPECT_LT(written_after, 5.0) << "the processes stopped at the SIGTERM, not at the SIGCONT";
  }
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(checkpoint).parent_path())) {
    const std::string name = entry.path().string();
    EXPECT_FALSE(name.rfind(checkpoint, 0) == 0 && (name.find(".tmp.") != std::string::npos ||
                                                    name.ends_with(".lock")))
        << "left behind: " << name;
  }
  const RunResult eval = test::run_shadowsync("eval --checkpoint '" + checkpoint + "' --data '" + data_file() + "'");
  EXPECT_EQ(eval.exit_code, 0) << eval.output;
  remove_checkpoint(checkpoint);
  std::filesystem::remove(log);
}

// Ctrl-Z and fg of mpirun (the processes get SIGSTOP, then SIGCONT) is not a stop: the run goes
// on after the resume, also when the suspension (4 s) outlasted --host-sync-timeout-s (2 s), and a
// later Ctrl-C stops it as usual.
TEST(MpiTrain, SuspendingAndResumingMpirunDoesNotStopTheRun) {
  const std::string checkpoint = temp_path("tstp.ckpt"), log = temp_path("tstp.log");
  remove_checkpoint(checkpoint);
  const pid_t launcher = start_long_run(checkpoint, log, "--host-sync-timeout-s 2", 4096);
  ASSERT_EQ(::kill(launcher, SIGTSTP), 0);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ASSERT_EQ(::kill(launcher, SIGCONT), 0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  int status = 0;
  EXPECT_EQ(::waitpid(launcher, &status, WNOHANG), 0) << "the run ended after a resume:\n" << read_file(log);
  EXPECT_EQ(read_file(log).find("stopped by signal"), std::string::npos) << read_file(log);
  EXPECT_EQ(read_file(log).find("error"), std::string::npos) << read_file(log);
  ::kill(launcher, SIGINT);
  wait_for_mpirun(launcher, 120);
  // The stop wrote both parts (small tables: well inside the window). The summary is not asserted
  // alone: once in a CI run it did not reach the log (mpirun forwards the processes' output).
  EXPECT_TRUE(std::filesystem::exists(checkpoint) && std::filesystem::exists(checkpoint + ".host-1-of-2"))
      << read_file(log);
  remove_checkpoint(checkpoint);
  std::filesystem::remove(log);
}

// Rank 0 notes when a stop checkpoint may not fit mpirun's kill window (twice
// odls_base_sigkill_timeout at 128 MiB/s): never with the default window and tables sized to the
// data (3 MB), always with a window of 0 s, naming the MCA parameter and a value that fits.
TEST(MpiTrain, ANoteSaysWhenTheStopCheckpointMayNotFitMpirunsKillWindow) {
  const std::string args = "'" + test::shadowsync_exe() + "' train --data '" + data_file() + "'" + kModel + " --groups 1 2>&1";
  const RunResult fits = test::run_shell_command(mpirun(2) + args);
  EXPECT_EQ(fits.exit_code, 0) << fits.output;
  EXPECT_EQ(fits.output.find("note: on Ctrl-C"), std::string::npos) << fits.output;
  const RunResult tight = test::run_shell_command(mpirun(2) + "--mca odls_base_sigkill_timeout 0 " + args);
  EXPECT_EQ(tight.exit_code, 0) << tight.output;
  EXPECT_NE(tight.output.find("note: on Ctrl-C mpirun kills every process 0 s after it asks it to stop"),
            std::string::npos) << tight.output;
  EXPECT_NE(tight.output.find("give it time with mpirun --mca odls_base_sigkill_timeout 10"), std::string::npos)
      << tight.output;
  EXPECT_EQ(count_of(tight.output, "note: on Ctrl-C"), 1u) << "rank 0 only\n" << tight.output;
}

// Processes given different data (another file, or the same file cut short) are refused before
// training, naming the process and both row counts; nothing is trained or written.
TEST(MpiTrain, ProcessesGivenDifferentDataAreRefused) {
  const std::string other = temp_path("other.tsv");
  SyntheticOptions options;
  options.rows = 40000;
  options.seed = 6;
  generate_synthetic_criteo(options, other);
  const std::string shorter = temp_path("shorter.tsv");
  {
    std::ifstream in(data_file());
    std::ofstream out(shorter);
    std::string line;
    for (int i = 0; i < 30000 && std::getline(in, line); ++i) out << line << '\n';
  }
  const std::string checkpoint = temp_path("mismatch.ckpt");
  auto both = [&](const std::string& second) {
    const std::string rank = "'" + test::shadowsync_exe() + "' train" + kModel + " --groups 1 --checkpoint '" +
                             checkpoint + "' --data ";
    return test::run_shell_command("mpirun --oversubscribe --bind-to none -np 1 " + rank + "'" + data_file() +
                                   "' : -np 1 " + rank + "'" + second + "' 2>&1");
  };
  const RunResult different = both(other);
  EXPECT_NE(different.exit_code, 0) << different.output;
  EXPECT_NE(different.output.find("--data: process 1 was given other data than process 0: 36000 training and 4000 "
                                  "held-out rows"),
            std::string::npos)
      << different.output;
  EXPECT_EQ(different.output.find("trained"), std::string::npos) << different.output;
  const RunResult cut = both(shorter);
  EXPECT_NE(cut.exit_code, 0) << cut.output;
  EXPECT_NE(cut.output.find("--data: process 1 was given other data than process 0: 27000 training and 3000 held-out "
                            "rows"),
            std::string::npos)
      << cut.output;
  EXPECT_FALSE(std::filesystem::exists(checkpoint));
  remove_checkpoint(checkpoint);
  std::filesystem::remove(other);
  std::filesystem::remove(shorter);
}

// The inter-host settings are options, validated by name; the environment variables of earlier
// versions are refused (naming the option) rather than silently ignored.
TEST(MpiTrain, HostOptionsAreValidatedAndOldEnvironmentVariablesRefused) {
  const RunResult bad = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --host-sync-timeout-s soon");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--host-sync-timeout-s expects a number in [0.1, 86400], got 'soon'"), std::string::npos) << bad.output;
  const RunResult alpha = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --host-alpha 2");
  EXPECT_NE(alpha.exit_code, 0);
  EXPECT_NE(alpha.output.find("--host-alpha expects a number in (0, 1], got 2"), std::string::npos) << alpha.output;
  const RunResult old = test::run_shell_command("SHADOWSYNC_MPI_TIMEOUT_S=3 " + mpirun(2) + " -x SHADOWSYNC_MPI_TIMEOUT_S '" +
                                                test::shadowsync_exe() + "' train --data '" + data_file() + "'" +
                                                kModel + " --groups 1 2>&1");
  EXPECT_NE(old.exit_code, 0);
  EXPECT_NE(old.output.find("environment variable SHADOWSYNC_MPI_TIMEOUT_S is no longer read: pass "
                            "--host-sync-timeout-s instead"),
            std::string::npos)
      << old.output;
  // Set, they reach the run: EASGD across 2 processes with its own alpha, dense only.
  const RunResult set = run_mpi(2, "train --data '" + data_file() + "'" + kModel + " --groups 1 --sync s-easgd "
                                   "--host-alpha 0.3 --host-dense-only --host-sync-interval-ms 5");
  ASSERT_EQ(set.exit_code, 0) << set.output;
  EXPECT_NE(set.output.find("across 2 processes: 36000 examples trained; inter-host sync (easgd)"), std::string::npos)
      << set.output;
}

// BF16 embedding rows are not synced across hosts: refused naming both options, and accepted
// with --host-dense-only.
TEST(MpiTrain, Bf16RowsAreRefusedUnlessOnlyTheDenseModelIsSynced) {
  const RunResult refused = run_mpi(2, "train --data '" + data_file() + "'" + kModel +
                                           " --groups 1 --embedding-precision bf16");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--embedding-precision bf16: embedding rows are synced across hosts only in fp32; use "
                                "--embedding-precision fp32, or --host-dense-only to sync only the dense model"),
            std::string::npos)
      << refused.output;
  const RunResult dense = run_mpi(2, "train --data '" + data_file() + "'" + kModel +
                                         " --groups 1 --embedding-precision bf16 --host-dense-only");
  EXPECT_EQ(dense.exit_code, 0) << dense.output;
}

}  // namespace
}  // namespace shadowsync
