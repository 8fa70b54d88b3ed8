// Topology: the machine (or a described machine) as hwloc 2.9 sees it: packages (sockets), NUMA
// nodes with their memory and PUs, cores, and the NUMA distance matrix. Loaded from this system,
// an hwloc XML file or an hwloc synthetic description, so that multi-socket placement can be
// planned and tested on a small machine.
#pragma once

#include <hwloc.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace shadowsync::numa {

class Topology {
 public:
  // What shadowsync plans for in a described machine (XML or synthetic), above any real server
  // with margin (8 sockets x 2 NUMA nodes x 128 cores x 2 PUs = 4096 PUs and about 12k objects;
  // 288 cores per socket). A description beyond them is refused before hwloc builds it: hwloc
  // 2.9 is superlinear in both PUs and children per parent (8192 PUs: a few seconds; 16384 PUs
  // or 4096 children per parent: up to minutes and hundreds of MB).
  static constexpr uint64_t kMaxPus = 8192;             // PUs of the machine
  static constexpr uint64_t kMaxOsIndex = kMaxPus - 1;  // largest PU / NUMA node OS index
  static constexpr uint64_t kMaxLevelCount = 512;       // children of one object (per level)
  static constexpr uint64_t kMaxObjects = 32768;        // objects of all types
  static constexpr int kMaxXmlDepth = 64;            // nesting of XML elements
  static constexpr uint64_t kMaxDistanceObjects = 1024;  // objects of one distance matrix
  static constexpr size_t kMaxXmlBytes = size_t{64} << 20;  // size of an XML description

  // spec "" -> this machine; an existing file path -> hwloc XML (from_xml_text on its
  // contents); otherwise an hwloc synthetic description (from_synthetic). A spec that looks like
  // a file (ends in ".xml" or contains '/') but does not exist, an unreadable or invalid XML file
  // or a malformed synthetic description throws shadowsync::Error naming the spec
  // ("--topology ...") and what is wrong.
  static Topology load(const std::string& spec);

  // An hwloc 2 XML topology given as text; `name` (the file name, or any label) is what
  // messages, spec() and source() show. The text is checked before hwloc sees it (hwloc 2.9
  // dereferences NULL on a missing complete_cpuset): every Machine/Package/Die/Group/cache/Core/
  // PU/NUMANode/MemCache object has cpuset, complete_cpuset, nodeset and complete_nodeset, any
  // object with one set of a pair has the other, PUs and NUMA nodes have an os_index, bitmaps
  // are finite and within kMaxOsIndex, sets nest (inside the complete set, inside the parent's,
  // CPU-side siblings disjoint and in PU order), there is at least one PU and one NUMA node, and
  // the limits above hold (PUs, objects, object children per object, nesting, distance matrices).
  // Throws shadowsync::Error "--topology: file 'NAME' is not a valid hwloc XML topology: line N:
  // ..." otherwise. Never crashes, hangs or allocates much more than the text's size on any
  // input: this is the entry point for fuzzing XML descriptions.
  static Topology from_xml_text(std::string_view text, std::string_view name);

  // An hwloc synthetic description such as "package:2 numa:1 core:8 pu:2". Its levels are read
  // first and the description refused when it has more than kMaxPus PUs, a level with more than
  // kMaxLevelCount objects per parent, more than kMaxObjects objects or an explicit indexes= list
  // with an index above kMaxOsIndex: Error "--topology 'SPEC': 65536 PUs, more than the 8192
  // shadowsync plans for". Malformed descriptions throw Error "--topology 'SPEC': not a valid
  // hwloc synthetic description ...". The entry point for fuzzing synthetic descriptions.
  static Topology from_synthetic(std::string_view description);

  Topology(Topology&& other) noexcept;
  Topology& operator=(Topology&& other) noexcept;
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;
  ~Topology();

  // The spec given to load() ("" for this machine).
  const std::string& spec() const { return spec_; }
  // Where it came from: "this machine", "XML file 'F'" or "synthetic 'S'".
  const std::string& source() const { return source_; }
  // True only for the running machine: only then can threads and memory be bound.
  bool is_this_system() const;

  int packages() const;    // at least 1 (a machine without package objects counts as one)
  int numa_nodes() const;  // at least 1
  int cores() const;       // at least 1 (PUs without a core object count as cores)
  int pus() const;

  struct Node {
    int os_index;           // the NUMA node number (as in numactl / hwloc P#)
    int package;            // logical index of the package holding it (or its first PU; 0 if none)
    uint64_t memory_bytes;  // local memory (0 when unknown)
    std::vector<int> pus;   // OS indexes of the PUs local to the node, ascending
  };
  // NUMA nodes ordered by logical index.
  std::vector<Node> nodes() const;

  // NUMA distance matrix (e.g. 10 local, 21 remote) ordered as nodes(), when the topology has
  // one (the OS, or a distances2 section of an XML file); empty otherwise.
  std::vector<std::vector<uint64_t>> distances() const;

  // Human-readable machine summary: source, sockets, nodes, cores, PUs, memory and PUs per node,
  // and the distance matrix when there is one.
  std::string describe() const;
  // The same facts as JSON (keys: topology, this_system, packages, numa_nodes, cores, pus,
  // nodes[{os_index, package, memory_bytes, pus}], distances).
  nlohmann::json to_json() const;

  // The loaded hwloc topology (owned by this object; valid while it lives).
  hwloc_topology_t hwloc() const { return topology_; }

 private:
  Topology(hwloc_topology_t topology, std::string spec, std::string source)
      : topology_(topology), spec_(std::move(spec)), source_(std::move(source)) {}
  hwloc_topology_t topology_ = nullptr;
  std::string spec_;
  std::string source_;  // "this machine", "XML file '...'" or "synthetic '...'"
};

}  // namespace shadowsync::numa
