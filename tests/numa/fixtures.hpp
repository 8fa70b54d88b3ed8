// Helpers of the numa tests: paths of the XML topology fixtures (numa/topologies/), and an
// Error's message as the command line shows it (fields spelled as flags: --topology, --groups).
#pragma once

#include <string>

#include "cli/flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::test {

inline std::string fixture(const std::string& name) {
  return std::string(NUMA_TOPOLOGIES_DIR) + "/" + name;
}

inline std::string cli_message(const Error& e) { return e.message(cli::flag_for_field); }

}  // namespace shadowsync::test
