// Fuzz target: numa::Topology::load on an hwloc synthetic description (the --topology string)
// and the placement plan made from it (topology_check.hpp). A bad description must be refused
// with shadowsync::Error; nothing else may escape. XML files: fuzz_topology_xml.
#include <cstdint>
#include <filesystem>
#include <string>

#include "topology_check.hpp"

using namespace shadowsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  // Only synthetic strings: "" is this machine, and a spec that looks like a path (or names an
  // existing file) would read whatever file it names.
  if (spec.empty() || spec.find('/') != std::string::npos || spec.find('\0') != std::string::npos ||
      spec.find(".xml") != std::string::npos || std::filesystem::exists(spec)) {
    return 0;
  }
  try {
    fuzz::use_topology(numa::Topology::load(spec));
  } catch (const Error&) {
  }
  return 0;
}
