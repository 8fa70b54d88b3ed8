// Fuzz target: numa::Topology::load on an hwloc XML file (written to a scratch .xml file) and the
// placement plan made from it (topology_check.hpp). The XML text is checked before hwloc reads
// it, as hwloc 2.9's XML import itself crashes on some malformed files (docs/testing.md, F3).
#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <string>

#include "topology_check.hpp"

using namespace shadowsync;

namespace {

// hwloc loads its libxml2 XML backend (hwloc/hwloc_xml_libxml.so beside libhwloc) with dlopen
// and unloads it again when the topology is destroyed. A leak inside it (F4) is then reported
// from "<unknown module>", which no LeakSanitizer suppression can name. Opening the plugin once
// more with RTLD_NODELETE keeps it (and libxml2) mapped, so tests/fuzz/lsan.supp's rules for it
// apply. Does nothing where the plugin does not exist.
int find_libhwloc(dl_phdr_info* info, size_t, void* out) {
  const std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (name.find("/libhwloc.so") == std::string::npos) return 0;
  *static_cast<std::string*>(out) = name;
  return 1;
}

const bool kHwlocXmlPluginKept = [] {
  std::string libhwloc;
  dl_iterate_phdr(find_libhwloc, &libhwloc);
  if (libhwloc.empty()) return false;
  const std::string plugin = libhwloc.substr(0, libhwloc.rfind('/')) + "/hwloc/hwloc_xml_libxml.so";
  return dlopen(plugin.c_str(), RTLD_LAZY | RTLD_NODELETE) != nullptr;
}();

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("topology", ".xml"));
  fuzz::write_file(scratch.path(), data, size);
  try {
    fuzz::use_topology(numa::Topology::load(scratch.path()));
  } catch (const Error&) {
  }
  return 0;
}
