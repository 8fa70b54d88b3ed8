// Topology: counts, nodes, memory and distance matrices of the XML fixtures and of synthetic
// descriptions, this machine, and the errors for bad specs.
#include "shadowsync/numa/topology.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>

#include "fixtures.hpp"
#include "shadowsync/error.hpp"

namespace shadowsync::numa {
namespace {

using testing::fixture;

constexpr uint64_t kGiB = uint64_t{1} << 30;

std::vector<int> range(int begin, int end) {
  std::vector<int> values;
  for (int i = begin; i < end; ++i) values.push_back(i);
  return values;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string error_of(const std::string& spec) {
  try {
    Topology::load(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Topology, ThisMachineMatchesTheAffinityMask) {
  const Topology topology = Topology::load("");
  EXPECT_TRUE(topology.is_this_system());
  EXPECT_EQ(topology.source(), "this machine");
  cpu_set_t mask;
  ASSERT_EQ(sched_getaffinity(0, sizeof(mask), &mask), 0);
  EXPECT_EQ(topology.pus(), CPU_COUNT(&mask));
  int node_pus = 0;
  for (const Topology::Node& node : topology.nodes()) {
    node_pus += static_cast<int>(node.pus.size());
    for (int pu : node.pus) EXPECT_TRUE(CPU_ISSET(pu, &mask)) << "PU " << pu;
  }
  EXPECT_EQ(node_pus, topology.pus());
  EXPECT_GE(topology.cores(), 1);
  EXPECT_LE(topology.cores(), topology.pus());
  const auto distances = topology.distances();
  if (!distances.empty()) {
    ASSERT_EQ(distances.size(), topology.nodes().size());
    for (size_t i = 0; i < distances.size(); ++i) EXPECT_EQ(distances[i][i], 10u);
  }
}

TEST(Topology, TwoSocketFixture) {
  const Topology topology = Topology::load(fixture("2socket.xml"));
  EXPECT_FALSE(topology.is_this_system());
  EXPECT_EQ(topology.packages(), 2);
  EXPECT_EQ(topology.numa_nodes(), 2);
  EXPECT_EQ(topology.cores(), 32);
  EXPECT_EQ(topology.pus(), 64);
  const auto nodes = topology.nodes();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].os_index, 0);
  EXPECT_EQ(nodes[0].package, 0);
  EXPECT_EQ(nodes[0].memory_bytes, 192 * kGiB);
  EXPECT_EQ(nodes[0].pus, concat(range(0, 16), range(32, 48)));
  EXPECT_EQ(nodes[1].os_index, 1);
  EXPECT_EQ(nodes[1].package, 1);
  EXPECT_EQ(nodes[1].pus, concat(range(16, 32), range(48, 64)));
  const std::vector<std::vector<uint64_t>> expected{{10, 21}, {21, 10}};
  EXPECT_EQ(topology.distances(), expected);
}

TEST(Topology, FourSocketRingDistances) {
  const Topology topology = Topology::load(fixture("4socket.xml"));
  EXPECT_EQ(topology.packages(), 4);
  EXPECT_EQ(topology.numa_nodes(), 4);
  EXPECT_EQ(topology.cores(), 32);
  EXPECT_EQ(topology.pus(), 64);
  EXPECT_EQ(topology.nodes()[2].memory_bytes, 96 * kGiB);
  EXPECT_EQ(topology.nodes()[3].pus, concat(range(24, 32), range(56, 64)));
  const std::vector<std::vector<uint64_t>> expected{
      {10, 21, 31, 21}, {21, 10, 21, 31}, {31, 21, 10, 21}, {21, 31, 21, 10}};
  EXPECT_EQ(topology.distances(), expected);
}

TEST(Topology, EightSocketSubNumaFixture) {
  const Topology topology = Topology::load(fixture("8socket-snc2.xml"));
  EXPECT_EQ(topology.packages(), 8);
  EXPECT_EQ(topology.numa_nodes(), 16);
  EXPECT_EQ(topology.cores(), 32);
  EXPECT_EQ(topology.pus(), 64);
  const auto nodes = topology.nodes();
  ASSERT_EQ(nodes.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(nodes[i].os_index, i);
    EXPECT_EQ(nodes[i].package, i / 2);
    EXPECT_EQ(nodes[i].memory_bytes, 32 * kGiB);
    EXPECT_EQ(nodes[i].pus, (std::vector<int>{2 * i, 2 * i + 1, 2 * i + 32, 2 * i + 33}));
  }
  const auto distances = topology.distances();
  ASSERT_EQ(distances.size(), 16u);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      const uint64_t want = i == j ? 10 : i / 2 == j / 2 ? 12 : i / 8 == j / 8 ? 21 : 32;
      EXPECT_EQ(distances[i][j], want) << i << "," << j;
    }
  }
}

TEST(Topology, SyntheticDescription) {
  const Topology topology = Topology::load("package:2 numa:1 core:8 pu:2");
  EXPECT_FALSE(topology.is_this_system());
  EXPECT_EQ(topology.source(), "synthetic 'package:2 numa:1 core:8 pu:2'");
  EXPECT_EQ(topology.packages(), 2);
  EXPECT_EQ(topology.numa_nodes(), 2);
  EXPECT_EQ(topology.cores(), 16);
  EXPECT_EQ(topology.pus(), 32);
  EXPECT_EQ(topology.nodes()[1].pus, range(16, 32));  // synthetic numbering: siblings adjacent
  EXPECT_EQ(topology.nodes()[1].package, 1);
  EXPECT_TRUE(topology.distances().empty());
}

TEST(Topology, SyntheticWithoutNumaHasOneMachineWideNode) {
  const Topology topology = Topology::load("package:2 core:2 pu:1");
  EXPECT_EQ(topology.packages(), 2);
  EXPECT_EQ(topology.numa_nodes(), 1);
  EXPECT_EQ(topology.cores(), 4);
  EXPECT_EQ(topology.pus(), 4);
  ASSERT_EQ(topology.nodes().size(), 1u);
  EXPECT_EQ(topology.nodes()[0].package, 0);
  EXPECT_EQ(topology.nodes()[0].pus, range(0, 4));
}

TEST(Topology, DescribeAndJson) {
  const Topology topology = Topology::load(fixture("2socket.xml"));
  const std::string text = topology.describe();
  EXPECT_NE(text.find("2 sockets, 2 NUMA nodes, 32 cores, 64 PUs (2 per core)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("node 1: socket 1, 192.0 GiB, PUs 16-31,48-63"), std::string::npos) << text;
  EXPECT_NE(text.find("    n1    21    10\n"), std::string::npos) << text;
  const nlohmann::json json = topology.to_json();
  EXPECT_EQ(json["packages"], 2);
  EXPECT_EQ(json["this_system"], false);
  EXPECT_EQ(json["nodes"][1]["memory_bytes"], 192 * kGiB);
  EXPECT_EQ(json["nodes"][1]["pus"][16], 48);
  EXPECT_EQ(json["distances"][0][1], 21);
}

TEST(Topology, MoveKeepsTheTopology) {
  Topology a = Topology::load("package:2 core:3 pu:2");
  Topology b = std::move(a);
  EXPECT_EQ(b.pus(), 12);
  EXPECT_EQ(b.spec(), "package:2 core:3 pu:2");
  a = std::move(b);
  EXPECT_EQ(a.cores(), 6);
}

TEST(Topology, MalformedSyntheticDescriptionIsAnError) {
  const std::string message = error_of("package:x");
  EXPECT_NE(message.find("--topology 'package:x': not a valid hwloc synthetic description"),
            std::string::npos)
      << message;
  EXPECT_NE(error_of("cores galore").find("not a valid hwloc synthetic description"),
            std::string::npos);
  EXPECT_NE(error_of("package:0").find("--topology 'package:0'"), std::string::npos);
}

TEST(Topology, MissingFileIsAnError) {
  EXPECT_EQ(error_of("no/such/machine.xml"), "--topology: file 'no/such/machine.xml' does not exist");
  EXPECT_EQ(error_of("machine.xml"), "--topology: file 'machine.xml' does not exist");
}

TEST(Topology, DirectoryIsAnError) {
  const std::string dir = NUMA_TOPOLOGIES_DIR;
  EXPECT_NE(error_of(dir).find("is not a regular file"), std::string::npos) << error_of(dir);
}

TEST(Topology, InvalidXmlIsAnError) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("shadowsync_bad_topology_" + std::to_string(getpid()) + ".xml");
  std::ofstream(path) << "<?xml version=\"1.0\"?>\n<topology version=\"2.0\"><object type=\"Nope\"";
  const std::string message = error_of(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(message.rfind("--topology: file '" + path.string() + "' is not a valid hwloc XML topology", 0), 0u)
      << message;
}

}  // namespace
}  // namespace shadowsync::numa
