// Files for the command-line tests: a per-process temporary path, and one generated Criteo TSV
// (40,000 rows, seed 5) shared by every test of a binary.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync::test {

// TMPDIR/PREFIX_PID_NAME: distinct per test binary (prefix) and per process.
inline std::string temp_path_for(const std::string& prefix, const std::string& name) {
  return (std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" + name)).string();
}

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
