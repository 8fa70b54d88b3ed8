// Fuzz target: numa::Topology::load on an hwloc XML file (written to a scratch .xml file) and the
// placement plan made from it (topology_check.hpp). Not in the CI set: hwloc 2.9's XML import
// itself crashes on some malformed files (docs/testing.md, tests/fuzz/findings/topology_xml/).
#include <cstdint>

#include "topology_check.hpp"

using namespace shadowsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("topology", ".xml"));
  fuzz::write_file(scratch.path(), data, size);
  try {
    fuzz::use_topology(numa::Topology::load(scratch.path()));
  } catch (const Error&) {
  }
  return 0;
}
