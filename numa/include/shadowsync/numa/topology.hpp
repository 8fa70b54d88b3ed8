// Topology: the machine (or a described machine) as hwloc 2.9 sees it: packages (sockets), NUMA
// nodes with their memory and PUs, cores, and the NUMA distance matrix. Loaded from this system,
// an hwloc XML file or an hwloc synthetic description, so that multi-socket placement can be
// planned and tested on a small machine.
#pragma once

#include <hwloc.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shadowsync::numa {

class Topology {
 public:
  // spec "" -> this machine; an existing file path -> hwloc XML; otherwise an hwloc synthetic
  // description such as "package:2 numa:1 core:8 pu:2". A spec that looks like a file (ends in
  // ".xml" or contains '/') but does not exist, an unreadable/invalid XML file or a malformed
  // synthetic description throws shadowsync::Error naming the spec ("--topology ...") and what
  // is wrong.
  static Topology load(const std::string& spec);

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
