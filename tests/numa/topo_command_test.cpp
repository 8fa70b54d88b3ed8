// `shadowsync topo`: runs the built tool and checks its JSON and text output and its errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "fixtures.hpp"

namespace {

struct Result {
  int status;
  std::string output;
};

// Runs `shadowsync ARGS` with stdout and stderr captured (stderr after "2>&1").
Result run(const std::string& args) {
  const std::string command = std::string("'") + SHADOWSYNC_EXE + "' " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

using shadowsync::numa::testing::fixture;

TEST(TopoCommand, JsonForTheFourSocketFixture) {
  const Result result = run("topo --json --topology '" + fixture("4socket.xml") + "' --groups 8");
  ASSERT_EQ(result.status, 0) << result.output;
  const nlohmann::json json = nlohmann::json::parse(result.output);
  EXPECT_EQ(json["machine"]["packages"], 4);
  EXPECT_EQ(json["machine"]["distances"][0][2], 31);
  EXPECT_EQ(json["plan"]["groups"].size(), 8u);
  EXPECT_EQ(json["plan"]["threads_per_group"], 4);
  EXPECT_EQ(json["plan"]["groups"][5]["cpuset"], "12-15,44-47");
  EXPECT_EQ(json["plan"]["groups"][5]["numa_node"], 1);
}

TEST(TopoCommand, TextForASyntheticMachine) {
  const Result result = run("topo --topology 'package:2 numa:1 core:2 pu:2' --group-by numa");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("2 sockets, 2 NUMA nodes, 4 cores, 8 PUs (2 per core)"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("plan: 2 groups x 2 worker threads"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("      1     1  4-7                   4,6                   5 (spare)"),
            std::string::npos)
      << result.output;
}

TEST(TopoCommand, ThisMachine) {
  const Result result = run("topo");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("topology: this machine\n"), std::string::npos) << result.output;
}

TEST(TopoCommand, Errors) {
  Result result = run("topo --topology 'package:x'");
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.output.rfind("shadowsync: error: --topology 'package:x': not a valid hwloc synthetic description", 0), 0u)
      << result.output;
  result = run("topo --topology missing.xml");
  EXPECT_EQ(result.status, 2);
  EXPECT_EQ(result.output, "shadowsync: error: --topology: file 'missing.xml' does not exist\n");
  result = run("topo --groups many");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("--groups: 'many' is not valid"), std::string::npos) << result.output;
  result = run("topo --group-by core");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("expected 'socket' or 'numa'"), std::string::npos) << result.output;
  result = run("topo --topology 'package:1 core:2 pu:1' --threads-per-group 3");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("pass --oversubscribe to allow it"), std::string::npos) << result.output;
  result = run("topo --topology 'package:1 core:2 pu:1' --threads-per-group 3 --oversubscribe --json");
  EXPECT_EQ(result.status, 0) << result.output;
}

}  // namespace
