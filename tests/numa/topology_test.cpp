// Topology: counts, nodes, memory and distance matrices of the XML fixtures and of synthetic
// descriptions, this machine, and the errors for bad specs (naming the topology field).
#include "shadowsync/numa/topology.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "fixtures.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

using test::cli_message;
using test::fixture;

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
    return cli_message(e);  // as the command line shows it
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

// The library names the configuration field, not the flag.
TEST(Topology, ErrorsNameTheTopologyField) {
  const auto what_of = [](const std::function<void()>& load) -> std::string {
    try {
      load();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(what_of([] { Topology::load("machine.xml"); }), "topology: file 'machine.xml' does not exist");
  EXPECT_EQ(what_of([] { Topology::load("pu:2147483648"); }),
            "topology 'pu:2147483648': 2147483648 PUs, more than the 8192 shadowsync plans for");
  EXPECT_EQ(what_of([] { Topology::from_xml_text("<x", "m.xml"); }).rfind(
                "topology: file 'm.xml' is not a valid hwloc XML topology: ", 0),
            0u);
  EXPECT_EQ(what_of([] { Topology::from_synthetic("package:x"); }).rfind(
                "topology 'package:x': not a valid hwloc synthetic description", 0),
            0u);
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


// ---- XML descriptions that used to crash inside libhwloc --------------------------------------

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string xml_text_error_of(const std::string& text, const std::string& name) {
  try {
    Topology::from_xml_text(text, name);
  } catch (const Error& e) {
    return cli_message(e);  // as the command line shows it
  }
  return "(no error)";
}

int line_of(const std::string& text, size_t offset) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(offset), '\n'));
}

// 2socket.xml with the complete_cpuset attribute of the first object of `type` misspelled
// ("complete_cpusett"); *line is set to the line of that object.
std::string misspell_complete_cpuset(const std::string& xml, const std::string& type, int* line) {
  const size_t object = xml.find("<object type=\"" + type + "\"");
  const size_t attribute = xml.find("complete_cpuset=", object);
  *line = line_of(xml, object);
  std::string bad = xml;
  bad.replace(attribute, std::string("complete_cpuset=").size(), "complete_cpusett=");
  return bad;
}

TEST(TopologyXml, MisspelledCompleteCpusetInAFileIsAnErrorNotACrash) {
  int line = 0;
  const std::string bad = misspell_complete_cpuset(read_text(fixture("2socket.xml")), "PU", &line);
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("shadowsync_misspelled_" + std::to_string(getpid()) + ".xml");
  std::ofstream(path) << bad;
  const std::string message = error_of(path.string());
  std::filesystem::remove(path);
  EXPECT_EQ(line, 13);
  EXPECT_EQ(message, "--topology: file '" + path.string() +
                         "' is not a valid hwloc XML topology: line 13: object PU has a cpuset but "
                         "no complete_cpuset attribute")
      << message;
}

TEST(TopologyXml, MisspelledCompleteCpusetOnAnyObjectIsAnError) {
  const std::string xml = read_text(fixture("2socket.xml"));
  for (const std::string type : {"Machine", "Package", "NUMANode", "Core", "PU"}) {
    int line = 0;
    const std::string message = xml_text_error_of(misspell_complete_cpuset(xml, type, &line), "bad.xml");
    EXPECT_EQ(message, fmt::format("--topology: file 'bad.xml' is not a valid hwloc XML topology: "
                                   "line {}: object {} has a cpuset but no complete_cpuset attribute",
                                   line, type));
  }
}

TEST(TopologyXml, FromXmlTextMatchesTheFile) {
  const Topology topology = Topology::from_xml_text(read_text(fixture("4socket.xml")), "four");
  EXPECT_EQ(topology.source(), "XML file 'four'");
  EXPECT_EQ(topology.spec(), "four");
  EXPECT_EQ(topology.packages(), 4);
  EXPECT_EQ(topology.pus(), 64);
  EXPECT_EQ(topology.distances()[0][2], 31u);
}

// A minimal well-formed hwloc 2 XML machine with the given object lines inside the Machine.
std::string machine_xml(const std::string& machine_attributes, const std::string& children) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
         "<topology version=\"2.0\">\n"
         "  <object type=\"Machine\" os_index=\"0\" " + machine_attributes + " gp_index=\"1\">\n" +
         children + "  </object>\n</topology>\n";
}

const std::string kSets = "cpuset=\"0x00000001\" complete_cpuset=\"0x00000001\" nodeset=\"0x00000001\" "
                          "complete_nodeset=\"0x00000001\"";
const std::string kNuma = "    <object type=\"NUMANode\" os_index=\"0\" " + kSets + " gp_index=\"2\"/>\n";
const std::string kPu = "    <object type=\"PU\" os_index=\"0\" " + kSets + " gp_index=\"3\"/>\n";

// A PU element with OS index and cpuset bit `index` (hwloc bitmap format: 32-bit words, the
// highest first).
std::string pu_xml(int index) {
  std::string set = fmt::format("0x{:08x}", 1u << (index % 32));
  for (int word = 0; word < index / 32; ++word) set += ",0x0";
  return fmt::format("    <object type=\"PU\" os_index=\"{}\" cpuset=\"{}\" complete_cpuset=\"{}\" "
                     "nodeset=\"0x1\" complete_nodeset=\"0x1\"/>\n",
                     index, set, set);
}

// Found by fuzzing: sets that do not nest make hwloc 2.9 print an "out-of-order XML topology"
// report and leak the objects it has read.
TEST(TopologyXml, SetsMustNest) {
  const std::string prefix = "--topology: file 'n.xml' is not a valid hwloc XML topology: ";
  const std::string three = "cpuset=\"0x7\" complete_cpuset=\"0x7\" nodeset=\"0x1\" complete_nodeset=\"0x1\"";
  EXPECT_EQ(Topology::from_xml_text(machine_xml(three, kNuma + pu_xml(0) + pu_xml(1) + pu_xml(2)), "n.xml").pus(), 3);
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma + pu_xml(1)), "n.xml"),
            prefix + "line 6: object PU has PUs outside its parent object Machine (line 4)");
  EXPECT_EQ(xml_text_error_of(machine_xml(three, kNuma + pu_xml(0) + pu_xml(2) + pu_xml(1)), "n.xml"),
            prefix + "line 8: object PU comes after a sibling with higher PUs (hwloc writes siblings in PU order)");
  EXPECT_EQ(xml_text_error_of(machine_xml(three, kNuma + pu_xml(0) + pu_xml(0)), "n.xml"),
            prefix + "line 7: object PU shares PUs with an earlier sibling");
  EXPECT_EQ(xml_text_error_of(machine_xml("cpuset=\"0x3\" complete_cpuset=\"0x1\" nodeset=\"0x1\" "
                                          "complete_nodeset=\"0x1\"", kNuma + pu_xml(0)), "n.xml"),
            prefix + "line 4: object Machine has a cpuset that is not inside its complete_cpuset");
  std::string numa_elsewhere = kNuma;
  numa_elsewhere.replace(numa_elsewhere.find("complete_nodeset=\"0x00000001\""), 30, "complete_nodeset=\"0x00000003\"");
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, numa_elsewhere + pu_xml(0)), "n.xml"),
            prefix + "line 5: object NUMANode has NUMA nodes outside its parent object Machine (line 4)");
}

TEST(TopologyXml, MinimalMachineLoads) {
  const Topology topology = Topology::from_xml_text(machine_xml(kSets, kNuma + kPu), "tiny.xml");
  EXPECT_EQ(topology.pus(), 1);
  EXPECT_EQ(topology.numa_nodes(), 1);
}

TEST(TopologyXml, StructuralErrorsNameTheLineAndTheProblem) {
  const std::string prefix = "--topology: file 'm.xml' is not a valid hwloc XML topology: ";
  // A PU without os_index.
  std::string pu = kPu;
  pu.replace(pu.find("os_index=\"0\" "), 13, "");
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma + pu), "m.xml"),
            prefix + "line 6: object PU has no os_index attribute");
  // A core without a nodeset.
  std::string core = "    <object type=\"Core\" os_index=\"0\" cpuset=\"0x1\" complete_cpuset=\"0x1\">\n"
                     "  " + kPu + "    </object>\n";
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma + core), "m.xml"),
            prefix + "line 6: object Core has no nodeset attribute");
  // No PU at all, and no NUMA node at all.
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma), "m.xml"),
            prefix + "the machine has no PU object");
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kPu), "m.xml"),
            prefix + "the machine has no NUMANode object");
  // A PU beyond the planned maximum, an infinite cpuset, a nonsense bitmap.
  std::string far_pu = kPu;
  far_pu.replace(far_pu.find("os_index=\"0\""), 12, "os_index=\"4294967295\"");
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma + far_pu), "m.xml"),
            prefix + "line 6: object PU has os_index 4294967295, more than the 8191 shadowsync plans for");
  std::string infinite = kSets;
  infinite.replace(0, std::string("cpuset=\"0x00000001\"").size(), "cpuset=\"0xf...f\"");
  EXPECT_EQ(xml_text_error_of(machine_xml(infinite, kNuma + kPu), "m.xml"),
            prefix + "line 4: object Machine has cpuset '0xf...f', an infinite set");
  std::string nonsense = kSets;
  nonsense.replace(0, std::string("cpuset=\"0x00000001\"").size(), "cpuset=\"zebra\"");
  EXPECT_EQ(xml_text_error_of(machine_xml(nonsense, kNuma + kPu), "m.xml"),
            prefix + "line 4: object Machine has cpuset 'zebra', not an hwloc bitmap");
  // More children than any real object has.
  std::string pus;
  for (int i = 0; i < 513; ++i) pus += pu_xml(i);
  std::string all_pus = "0x00000001";
  for (int word = 0; word < 16; ++word) all_pus += ",0xffffffff";
  const std::string wide_sets = "cpuset=\"" + all_pus + "\" complete_cpuset=\"" + all_pus +
                                "\" nodeset=\"0x1\" complete_nodeset=\"0x1\"";
  EXPECT_EQ(xml_text_error_of(machine_xml(wide_sets, kNuma + pus), "m.xml"),
            prefix + "line 4: object Machine has 513 child objects, more than the 512 shadowsync plans for");
  // A bitmap starting with ',' made libhwloc's own parser abort on an assertion (fuzzing).
  std::string leading_comma = kSets;
  leading_comma.replace(0, std::string("cpuset=\"0x00000001\"").size(), "cpuset=\",0x00000004,0x00000004\"");
  EXPECT_EQ(xml_text_error_of(machine_xml(leading_comma, kNuma + kPu), "m.xml"),
            prefix + "line 4: object Machine has cpuset ',0x00000004,0x00000004', not an hwloc bitmap");
  // Text where hwloc expects a tag (found by fuzzing: hwloc 2.9 leaks the objects it has read).
  EXPECT_EQ(xml_text_error_of(machine_xml(kSets, kNuma + "    \"0x1\" gp_index=\"29\">\n" + kPu), "m.xml"),
            prefix + "line 6: unexpected text '\"0x1\" gp_index=\"29\">' in <object>");
  // Not hwloc 2 XML, and not XML.
  EXPECT_EQ(xml_text_error_of("<topology version=\"1.0\">\n</topology>\n", "m.xml"),
            prefix + "line 1: topology version 1.0; shadowsync reads hwloc 2 XML (version 2.x)");
  EXPECT_EQ(xml_text_error_of("package:2 pu:2", "m.xml"),
            prefix + "line 1: expected <topology version=\"2.x\">");
  const std::string whole = machine_xml(kSets, kNuma + kPu);
  EXPECT_EQ(xml_text_error_of(whole.substr(0, whole.find("  </object>")), "m.xml"),
            prefix + "line 4: <object> is not closed before the end of the file");
  EXPECT_EQ(xml_text_error_of(whole.substr(0, 200), "m.xml"),
            prefix + "line 4: a tag is not closed ('>' missing)");
}

// ---- Synthetic descriptions that used to take minutes or gigabytes ----------------------------

TEST(TopologySynthetic, OversizedMachinesAreRefusedQuickly) {
  EXPECT_EQ(error_of("pu:2147483648"),
            "--topology 'pu:2147483648': 2147483648 PUs, more than the 8192 shadowsync plans for");
  EXPECT_EQ(error_of("package:65536 pu:1"),
            "--topology 'package:65536 pu:1': 65536 PUs, more than the 8192 shadowsync plans for");
  EXPECT_EQ(error_of("package:1000 core:1000 pu:1"),
            "--topology 'package:1000 core:1000 pu:1': 1000000 PUs, more than the 8192 shadowsync "
            "plans for");
  EXPECT_EQ(error_of("package:8192 pu:1"),
            "--topology 'package:8192 pu:1': level 'package:8192' has 8192 objects per parent, more "
            "than the 512 shadowsync plans for");
  EXPECT_EQ(error_of("package:0x10000 pu:1"),
            "--topology 'package:0x10000 pu:1': 65536 PUs, more than the 8192 shadowsync plans for");
  EXPECT_EQ(error_of("package:99999999999999999999999 pu:99999999999999999999"),
            "--topology 'package:99999999999999999999999 pu:99999999999999999999': over "
            "4611686018427387904 PUs, more than the 8192 shadowsync plans for");
}

TEST(TopologySynthetic, HugeExplicitIndexesAreRefused) {
  EXPECT_EQ(error_of("pu:2(indexes=4294967295,1)"),
            "--topology 'pu:2(indexes=4294967295,1)': 'indexes=4294967295,1' lists index "
            "4294967295, more than the 8191 shadowsync plans for");
  EXPECT_EQ(error_of("package:2 [numa(indexes=0,99999)] pu:1"),
            "--topology 'package:2 [numa(indexes=0,99999)] pu:1': 'indexes=0,99999' lists index "
            "99999, more than the 8191 shadowsync plans for");
}

TEST(TopologySynthetic, TooManyObjectsAreRefused) {
  std::string spec = "package:512";
  for (int i = 0; i < 64; ++i) spec += " [numa]";
  spec += " pu:1";
  EXPECT_EQ(error_of(spec), "--topology '" + spec +
                                "': 33793 objects, more than the 32768 shadowsync plans for");
}

TEST(TopologySynthetic, LargestRealMachinesStillLoad) {
  // 8 sockets x 2 nodes x 128 cores x 2 PUs.
  const Topology big = Topology::from_synthetic("package:8 numa:2 core:128 pu:2");
  EXPECT_EQ(big.pus(), 4096);
  EXPECT_EQ(big.numa_nodes(), 16);
  EXPECT_EQ(Topology::load("(memory=1GB) package:2 [numa(memory=64GB)] l3:2 core:4 pu:2(indexes=0,8,1,9,2,10,3,11,4,12,5,13,6,14,7,15,16,24,17,25,18,26,19,27,20,28,21,29,22,30,23,31)").pus(), 32);
  EXPECT_EQ(Topology::load("2 2 2").pus(), 8);
  EXPECT_EQ(Topology::load("2 2 pu:2").pus(), 8);
  EXPECT_EQ(Topology::load("package:2 core:2 2").pus(), 8);
  EXPECT_EQ(Topology::load("package:2 core:288 pu:1").pus(), 576);
}

// Found by fuzzing: hwloc reads "pac\x8b..." as "package", and the spec then made
// to_json().dump() throw nlohmann's invalid UTF-8 error.
TEST(TopologySynthetic, NonAsciiBytesAreRefused) {
  EXPECT_EQ(error_of("pac\x8b\x9e:2 pu:1"),
            "--topology 'pac...': not a valid hwloc synthetic description (byte 0x8b at offset 3; "
            "descriptions are printable ASCII); expected levels TYPE:COUNT ending with pu, e.g. "
            "'package:2 numa:1 core:8 pu:2', or an existing hwloc XML file");
  EXPECT_NE(error_of(std::string("pu:2\0pu:3", 9)).find("'pu:2...': not a valid hwloc synthetic "
                                                        "description (byte 0x00 at offset 4;"),
            std::string::npos)
      << error_of(std::string("pu:2\0pu:3", 9));
}

TEST(TopologyXml, JsonOfANonUtf8FileNameCanBeDumped) {
  const Topology topology = Topology::from_xml_text(read_text(fixture("2socket.xml")), "m\xff.xml");
  const nlohmann::json json = topology.to_json();
  EXPECT_EQ(json["topology"], "m\xef\xbf\xbd.xml");  // U+FFFD
  EXPECT_NO_THROW((void)json.dump());
}

// Found by fuzzing (LeakSanitizer): hwloc 2.9 leaks the attached NUMA nodes it has read when its
// checks after reading the levels fail, so those checks are made first.
TEST(TopologySynthetic, HwlocsLevelChecksAreMadeFirst) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"(memory=1GB) package:2 [numa(memory=64GB)]", "the last level must be pu"},
      {"package:2 [numa] core:2", "the last level must be pu"},
      {"package:2 [numa] pu:2 pu:2", "more than one PU level"},
      {"package:2 [numa] pu:12 2", "more than one PU level"},  // the last level is the PUs
      {"package:2 [numa] 41 2 pu:1", "levels with and without a type are mixed"},
      {"[numa]", "no levels"},
      {"package:2 [numa] numa:2 pu:1", "NUMA nodes both as a level and attached"},
      {"package:2 [core] pu:1", "only NUMA nodes can be attached, at '[core] pu:1'"},
      {"package:2 bridge:2 pu:1", "object type not allowed at 'bridge:2 pu:1'"},
      {"package:2 [zebra] pu:1", "unknown object type at 'zebra] pu:1'"},
  };
  for (const auto& [spec, why] : cases) {
    EXPECT_EQ(error_of(spec).rfind("--topology '" + spec + "': not a valid hwloc synthetic description (" +
                                       why + "); expected levels",
                                   0),
              0u)
        << error_of(spec);
  }
}

TEST(TopologySynthetic, UnparsableDescriptionsAreStillReportedAsSuch) {
  for (const std::string bad : {"package", "package:", "(memory=1", "package:2 [numa pu:1", "pu:2(indexes=1"}) {
    EXPECT_NE(error_of(bad).find("--topology '" + bad + "': not a valid hwloc synthetic description"),
              std::string::npos)
        << error_of(bad);
  }
}

}  // namespace
}  // namespace shadowsync::numa
