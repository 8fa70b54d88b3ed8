// `shadowsync train --init-from` run as a process: the next day's data trained on from the
// previous day's checkpoint, its model and hashing taken from the checkpoint, the chain printed
// by train and eval; refusals of another model, hashing, schema, --resume, an output over the
// checkpoint and files that are not checkpoints, each one short line with exit code 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"
#include "train/checkpoint.hpp"

namespace shadowsync {
namespace {

using test::RunResult;

RunResult run(const std::string& args) { return test::run_shadowsync(args); }
std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_init_from_cli", name); }

// Day 1: the first 20,000 lines of the generated file; day 2: the other 20,000.
const std::string& day(int d) {
  static std::string paths[2];
  if (paths[0].empty()) {
    std::ifstream in(test::generated_data_file("shadowsync_init_from_cli"));
    paths[0] = temp_path("day1.tsv");
    paths[1] = temp_path("day2.tsv");
    std::ofstream one(paths[0]), two(paths[1]);
    std::string line;
    for (int i = 0; std::getline(in, line); ++i) (i < 20000 ? one : two) << line << '\n';
  }
  return paths[d - 1];
}

const std::string kRun = " --quiet --sync none --deterministic --topology 'package:1 core:1 pu:1' --threads-per-group 1";

// Day 1's checkpoint (model tiny, tables sized to day 1).
const std::string& day1_checkpoint() {
  static std::string path;
  if (path.empty()) {
    path = temp_path("day1.ckpt");
    const RunResult r = run("train --data '" + day(1) + "' --model tiny --checkpoint '" + path + "'" + kRun);
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  return path;
}

void expect_refused(const RunResult& r, const std::string& expected, const std::string& what) {
  EXPECT_EQ(r.exit_code, 2) << what << "\n" << r.output.substr(0, 2000);
  EXPECT_NE(r.output.find(expected), std::string::npos) << what << "\n" << r.output.substr(0, 2000);
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << what;
  EXPECT_LT(r.output.size(), 1000u) << what << ": the message is one short line";
}

TEST(InitFromCommand, TheNextDayStartsFromTheCheckpointsModelAndPrintsTheChain) {
  const std::string& day1 = day1_checkpoint();
  const std::string day2 = temp_path("day2.ckpt");
  // No --model, no --rows-per-table: the checkpoint's model and tables.
  const RunResult r = run("train --data '" + day(2) + "' --init-from '" + day1 + "' --checkpoint '" + day2 + "'" + kRun);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string checksum;
  nlohmann::json day1_model;
  {
    CheckpointReader reader(day1);
    checksum = reader.content_checksum();
    day1_model = reader.json("header")["model"];
  }
  const std::string chain = std::filesystem::absolute(day1).lexically_normal().string() + " (18000 examples, checksum " +
                            checksum + ")";
  EXPECT_NE(r.output.find("training the --init-from model on 18000 rows"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained 18000 examples"), std::string::npos) << r.output;  // counted anew
  EXPECT_NE(r.output.find("started from: " + chain + "\n"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("tables sized to the data"), std::string::npos) << r.output;  // no statistics pass
  {
    CheckpointReader reader(day2);
    const nlohmann::json header = reader.json("header");
    EXPECT_EQ(header["model"], day1_model);
    EXPECT_EQ(header["examples"], 18000);
    EXPECT_EQ(header["init_chain"][0]["checksum"], checksum);
    EXPECT_EQ(header["train"]["init_from"], day1);
  }
  // eval says where the model came from, in text and JSON.
  const RunResult text = run("eval --checkpoint '" + day2 + "' --data '" + day(2) + "'");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("started from: " + chain), std::string::npos) << text.output;
  const RunResult json = run("eval --json --checkpoint '" + day2 + "' --data '" + day(2) + "'");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const nlohmann::json j = nlohmann::json::parse(json.output.substr(json.output.find('{')));
  EXPECT_EQ(j["init_chain"][0]["examples_trained"], 18000);
  EXPECT_EQ(j["init_chain"][0]["checksum"], checksum);
  // A model from its seed has no chain.
  const RunResult plain = run("eval --checkpoint '" + day1 + "' --data '" + day(2) + "'");
  EXPECT_EQ(plain.output.find("started from"), std::string::npos) << plain.output;
}

TEST(InitFromCommand, RefusalsNameWhatDiffers) {
  const std::string& day1 = day1_checkpoint();
  const std::string base = "train --data '" + day(2) + "' --init-from '" + day1 + "'" + kRun;
  expect_refused(run(base + " --model small"),
                 "--init-from '" + day1 + "': checkpoint is for another model (checkpoint vs this run's --model: "
                 "bottom [8,4] vs [64,16]",
                 "--model small");
  expect_refused(run(base + " --hash-salt 3"),
                 "--init-from '" + day1 + "': checkpoint was written with other hashing parameters (rows per table or "
                 "salt differ from this run's --rows-per-table / --hash-salt: checkpoint vs this run: hashing.salt 0 vs 3)",
                 "--hash-salt");
  expect_refused(run(base + " --rows-per-table 64"), "checkpoint vs this run: hashing.rows[0]", "--rows-per-table");
  // A cache carries its hashing.
  const std::string cache = temp_path("day2_1024.cache");
  ASSERT_EQ(run("convert '" + day(2) + "' '" + cache + "' --rows-per-table 1024").exit_code, 0);
  expect_refused(run("train --data '" + cache + "' --init-from '" + day1 + "'" + kRun),
                 "--init-from '" + day1 + "': checkpoint was written with other hashing parameters", "cache's hashing");
  // Another schema: stated for text, stored in a cache.
  const std::string schema = temp_path("renamed.json");
  {
    nlohmann::json columns = nlohmann::json::array({{{"name", "label"}, {"kind", "label"}}});
    for (int i = 1; i <= 13; ++i) columns.push_back({{"name", i == 1 ? "count" : "I" + std::to_string(i)}, {"kind", "numeric"}});
    for (int i = 1; i <= 26; ++i) columns.push_back({{"name", "C" + std::to_string(i)}, {"kind", "categorical"}});
    std::ofstream(schema) << nlohmann::json{{"columns", columns}}.dump();
  }
  expect_refused(run(base + " --schema '" + schema + "'"),
                 "--schema: " + day1 + " has its own schema, which the stated one does not match: column 1: I1 (numeric) "
                 "vs count (numeric)",
                 "--schema");
  const std::string renamed = temp_path("renamed.cache");
  ASSERT_EQ(run("convert '" + day(2) + "' '" + renamed + "' --schema '" + schema + "' --rows-per-table 64").exit_code, 0);
  expect_refused(run("train --data '" + renamed + "' --init-from '" + day1 + "'" + kRun),
                 "--init-from '" + day1 + "': checkpoint was trained on data of another schema (checkpoint vs this "
                 "run's --data: column 1: I1 (numeric) vs count (numeric))",
                 "cache of another schema");
  expect_refused(run(base + " --resume '" + day1 + "'"), "--init-from and --resume exclude each other", "--resume");
  expect_refused(run(base + " --checkpoint '" + day1 + "'"),
                 "--checkpoint '" + day1 + "' is the same file as --init-from '" + day1 + "'", "--checkpoint");
  expect_refused(run(base + " --metrics '" + day1 + "'"),
                 "--metrics '" + day1 + "' is the same file as --init-from '" + day1 + "'", "--metrics");
  expect_refused(run("train --data '" + day(2) + "' --init-from '" + day(1) + "'" + kRun),
                 "--init-from: checkpoint '" + day(1) + "': not a shadowsync checkpoint (wrong magic)", "a TSV");
  const std::string missing = temp_path("missing.ckpt");
  expect_refused(run("train --data '" + day(2) + "' --init-from '" + missing + "'" + kRun),
                 "--init-from: checkpoint " + missing + ": cannot open: No such file or directory", "missing");
}

}  // namespace
}  // namespace shadowsync
