// Paths of the XML topology fixtures (numa/topologies/) for the numa tests.
#pragma once

#include <string>

namespace shadowsync::test {

inline std::string fixture(const std::string& name) {
  return std::string(NUMA_TOPOLOGIES_DIR) + "/" + name;
}

}  // namespace shadowsync::test
