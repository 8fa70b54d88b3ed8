// Checkpoint and resume messages of `shadowsync train` and `eval` run as processes: resuming with
// another --eval-fraction or --sync names both sides; a deeply nested --model file and a
// checkpoint header with an absurd number are refused with exit code 2 and a short message (not
// a crash or "internal error"); a second run given a --checkpoint that a running one holds is
// refused. The executable's path comes in SHADOWSYNC_EXE (tests/cli/meson.build).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"
#include "train/checkpoint.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

RunResult run(const std::string& args) { return test::run_shadowsync(args); }

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_resume_cli", name); }
const std::string& data_file() { return test::generated_data_file("shadowsync_resume_cli"); }

std::string train_args(const std::string& ckpt, const std::string& sync = "s-ma", const std::string& model = "small") {
  return "train --data '" + data_file() + "' --model " + model + " --rows-per-table 4096 --quiet --sync " + sync +
         " --topology 'package:1 core:1 pu:1' --checkpoint '" + ckpt + "'";
}

void expect_refused(const RunResult& r, const std::string& expected, const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << what << "\n" << r.output.substr(0, 2000);
  EXPECT_NE(r.output.find(expected), std::string::npos) << what << "\n" << r.output.substr(0, 2000);
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << what;
  EXPECT_LT(r.output.size(), 1000u) << what << ": the message is one short line";
}

TEST(ResumeCommand, OtherEvalFractionOrSyncIsRefusedNamingBothSides) {
  const std::string ckpt = temp_path("split.ckpt");
  const RunResult first = run(train_args(ckpt) + " --eval-fraction 0.1 --max-examples 3000");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  expect_refused(run(train_args(ckpt) + " --eval-fraction 0.3 --resume '" + ckpt + "'"),
                 "checkpoint was trained on 36000 rows with 4000 held out", "--eval-fraction 0.3");
  expect_refused(run(train_args(ckpt) + " --eval-fraction 0.3 --resume '" + ckpt + "'"),
                 "this run has 28000 rows with 12000 held out", "--eval-fraction 0.3");
  expect_refused(run(train_args(ckpt, "s-bmuf") + " --eval-fraction 0.1 --resume '" + ckpt + "'"),
                 "checkpoint was trained with s-ma, asked for s-bmuf", "--sync s-bmuf");
  expect_refused(run(train_args(ckpt, "s-ma", "tiny") + " --eval-fraction 0.1 --resume '" + ckpt + "'"),
                 "bottom [64,16] vs [8,4]", "--model tiny");
  const RunResult same = run(train_args(ckpt) + " --eval-fraction 0.1 --resume '" + ckpt + "'");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_NE(same.output.find("trained 36000 examples"), std::string::npos) << same.output;
  std::filesystem::remove(ckpt);
  std::filesystem::remove(ckpt + ".lock");
}

TEST(ResumeCommand, DeepModelFileAndAbsurdHeaderAreRefusedCleanly) {
  const std::string model = temp_path("deep.json");
  std::ofstream(model) << "{\"bottom\": " << std::string(200000, '[') << std::string(200000, ']') << "}";
  // Before: the message's dump() of bottom[0] overflowed the stack (a crash, no message).
  expect_refused(run("train --data '" + data_file() + "' --model '" + model + "' --quiet"),
                 model + ": JSON nested deeper than 64 levels", "deep --model");
  std::filesystem::remove(model);

  const std::string ckpt = temp_path("absurd.ckpt");
  ASSERT_EQ(run(train_args(ckpt) + " --max-examples 2000").exit_code, 0);
  // Same sections, header with replicas = 1e400 (out of nlohmann's range) or 1e300.
  std::vector<std::pair<std::string, std::vector<float>>> sections;
  nlohmann::json header;
  {
    CheckpointReader reader(ckpt);
    header = reader.json("header");
    for (std::string_view name : kTrainerCheckpointSections) {
      if (name == "header" || !reader.has(name)) continue;
      std::vector<float> floats(reader.section_bytes(name) / sizeof(float));
      reader.read_floats(name, floats.data(), floats.size());
      sections.emplace_back(std::string(name), std::move(floats));
    }
  }
  header["replicas"] = 1e300;
  {
    CheckpointWriter writer(ckpt);
    writer.add_json("header", header);
    for (const auto& [name, floats] : sections) writer.add_floats(name, floats.data(), floats.size());
    writer.commit();
  }
  // Before: an undefined float-to-integer conversion.
  expect_refused(run("eval --checkpoint '" + ckpt + "' --data '" + data_file() + "'"),
                 "checkpoint '" + ckpt + "': field 'replicas' must be an integer in 1..4096, got 1e+300", "eval");
  std::filesystem::remove(ckpt);
  std::filesystem::remove(ckpt + ".lock");
}

TEST(ResumeCommand, SecondRunOnTheSameCheckpointIsRefused) {
  const std::string ckpt = temp_path("shared.ckpt");
  const std::string log = temp_path("shared.log");
  const std::string args = "train --data '" + data_file() + "' --model small --rows-per-table 4096 --epochs 50 " +
                           "--sync s-ma --topology 'package:1 core:1 pu:1' --progress-seconds 0.05 --checkpoint '" +
                           ckpt + "'";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string command = "exec '" + test::shadowsync_exe() + "' " + args + " > '" + log + "' 2>&1";
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool started = false;
  for (int i = 0; i < 600 && !started; ++i) {
    ::usleep(50 * 1000);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    started = text.find("progress:") != std::string::npos;
  }
  // Before: both ran and wrote the same PATH.tmp (in 5 of 28 trials a corrupted checkpoint).
  const RunResult second = run(args + " --quiet");
  ::kill(child, SIGINT);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(started) << "training never reported progress";
  expect_refused(second, "checkpoint '" + ckpt + "' is in use: another training run holds its lock", "second run");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130);
  CheckpointReader reader(ckpt);  // the first run's checkpoint is intact
  EXPECT_TRUE(reader.has("replicas"));
  std::filesystem::remove(ckpt);
  std::filesystem::remove(ckpt + ".lock");
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace shadowsync
