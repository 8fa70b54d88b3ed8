// Files for the command-line tests: one generated Criteo TSV (40,000 rows, seed 5) shared by
// every test of a binary (temporary paths: temp_paths.hpp).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "shadowsync/synthetic/synthetic.hpp"
#include "temp_paths.hpp"

namespace shadowsync::test {

// The binary's generated data file (made on first use).
inline const std::string& generated_data_file(const std::string& prefix) {
  static const std::string path = [&] {
    const std::string p = temp_path_for(prefix, "data.tsv");
    SyntheticOptions options;
    options.rows = 40000;
    options.seed = 5;
    generate_synthetic_criteo(options, p);
    return p;
  }();
  return path;
}

}  // namespace shadowsync::test
