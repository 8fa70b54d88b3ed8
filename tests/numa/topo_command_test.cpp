// `shadowsync topo`: runs the built tool and checks its JSON and text output and its errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
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

using shadowsync::test::fixture;

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
  EXPECT_NE(result.output.find("      1     1  4-7                   4,6                   PU 5 (spare: no worker on it)"),
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
  EXPECT_NE(result.output.find("--groups expects 'auto' or an integer in [1, 1048576], got 'many'"), std::string::npos) << result.output;
  result = run("topo --group-by core");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("--group-by expects 'socket' or 'numa', got 'core'"), std::string::npos) << result.output;
  result = run("topo --topology 'package:1 core:2 pu:1' --threads-per-group 3");
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.output.find("pass --oversubscribe to allow it"), std::string::npos) << result.output;
  result = run("topo --topology 'package:1 core:2 pu:1' --threads-per-group 3 --oversubscribe --json");
  EXPECT_EQ(result.status, 0) << result.output;
}

TEST(TopoCommand, SyncThreadSharingAWorkerPuNamesThePu) {
  const Result result = run("topo --topology 'package:2 core:1 pu:1'");
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("PU 1 (no spare PU; worker 0 runs on PU 1 too)\n"), std::string::npos)
      << result.output;
  const Result json = run("topo --json --topology 'package:2 core:1 pu:1'");
  ASSERT_EQ(json.status, 0) << json.output;
  const nlohmann::json plan = nlohmann::json::parse(json.output)["plan"];
  EXPECT_EQ(plan["groups"][1]["sync_pu"], 1);
  EXPECT_EQ(plan["groups"][1]["sync_on_spare_pu"], false);
  EXPECT_EQ(plan["groups"][1]["sync_shares_pu_with_worker"], 0);
}

TEST(TopoCommand, OversizedSyntheticMachinesAreRefused) {
  for (const std::string spec : {"pu:2147483648", "package:65536 pu:1", "package:1000 core:1000 pu:1"}) {
    const Result result = run("topo --topology '" + spec + "'");
    EXPECT_EQ(result.status, 2) << result.output;
    EXPECT_EQ(result.output.rfind("shadowsync: error: --topology '" + spec + "': ", 0), 0u) << result.output;
    EXPECT_NE(result.output.find(" PUs, more than the 8192 shadowsync plans for\n"), std::string::npos)
        << result.output;
  }
  const Result indexes = run("topo --topology 'pu:2(indexes=4294967295,1)'");
  EXPECT_EQ(indexes.status, 2);
  EXPECT_EQ(indexes.output,
            "shadowsync: error: --topology 'pu:2(indexes=4294967295,1)': 'indexes=4294967295,1' lists "
            "index 4294967295, more than the 8191 shadowsync plans for\n");
}

TEST(TopoCommand, XmlWithAMisspelledCompleteCpusetIsAnErrorNotACrash) {
  std::ifstream in(fixture("2socket.xml"));
  std::stringstream text;
  text << in.rdbuf();
  std::string xml = text.str();
  const size_t first_pu = xml.find("<object type=\"PU\"");
  xml.replace(xml.find("complete_cpuset=", first_pu), 16, "complete_cpusett=");
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("shadowsync_topo_misspelled_" + std::to_string(getpid()) + ".xml");
  std::ofstream(path) << xml;
  const Result result = run("topo --topology '" + path.string() + "'");
  std::filesystem::remove(path);
  EXPECT_EQ(result.status, 2) << result.output;  // was killed by SIGSEGV inside libhwloc
  EXPECT_EQ(result.output, "shadowsync: error: --topology: file '" + path.string() +
                               "' is not a valid hwloc XML topology: line 13: object PU has a cpuset "
                               "but no complete_cpuset attribute\n");
}

}  // namespace
