// What the topology fuzz targets (fuzz_topology, fuzz_topology_xml) do with a description that
// loads: it must have a package, a node and a core, print as JSON and give a usable placement
// plan or a shadowsync::Error.
#pragma once

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"

namespace shadowsync::fuzz {

inline void use_topology(const numa::Topology& topology) {
  if (topology.packages() < 1 || topology.numa_nodes() < 1 || topology.cores() < 1) {
    fail("a loaded topology with no package, node or core");
  }
  topology.to_json();
  try {
    const numa::Plan plan = numa::make_plan(topology, numa::PlacementOptions{});
    if (plan.groups.empty()) fail("a plan without groups");
    plan.to_table();
    plan.to_json();
  } catch (const Error&) {
  }
}

}  // namespace shadowsync::fuzz
