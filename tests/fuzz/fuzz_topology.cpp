// Fuzz target: the topology description (numa::Topology::load) and the placement plan made
// from it. The first byte picks the form: even -> the rest is an hwloc synthetic description,
// odd -> the rest is an hwloc XML file (written to a scratch .xml file). A description that
// loads must give a usable plan or a shadowsync::Error; nothing else may escape.
#include <cstdint>
#include <string>

#include "fuzz_util.hpp"
#include "shadowsync/error.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"

using namespace shadowsync;

namespace {

void use(const numa::Topology& topology) {
  if (topology.packages() < 1 || topology.numa_nodes() < 1 || topology.cores() < 1) {
    fuzz::fail("a loaded topology with no package, node or core");
  }
  topology.to_json();
  try {
    const numa::Plan plan = numa::make_plan(topology, numa::PlacementOptions{});
    if (plan.groups.empty()) fuzz::fail("a plan without groups");
    plan.to_table();
    plan.to_json();
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("topology", ".xml"));
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string spec;
  if (data[0] % 2 == 0) {
    // Only synthetic strings: "" is this machine, and a spec that looks like a path would read
    // whatever file it names.
    if (rest.empty() || rest.find('/') != std::string::npos ||
        (rest.size() >= 4 && rest.compare(rest.size() - 4, 4, ".xml") == 0) ||
        rest.find('\0') != std::string::npos) {
      return 0;
    }
    spec = rest;
  } else {
    fuzz::write_file(scratch.path(), rest.data(), rest.size());
    spec = scratch.path();
  }
  try {
    use(numa::Topology::load(spec));
  } catch (const Error&) {
  }
  return 0;
}
