// Temporary files of the tests: a per-process path (temp_path_for) and a fresh folder per test
// (TempDir), both under the system's temporary folder, named after the test binary's prefix.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace shadowsync::test {

// TMPDIR/PREFIX_PID_NAME: distinct per test binary (prefix) and per process.
inline std::string temp_path_for(const std::string& prefix, const std::string& name) {
  return (std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A fresh temporary folder per test (TMPDIR/PREFIX_PID_SUITE_TEST), removed at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "shadowsync_data") {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& contents) const {
    const std::string p = file(name);
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace shadowsync::test
