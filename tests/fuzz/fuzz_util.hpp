// Helpers shared by the libFuzzer targets of tests/fuzz: a per-process scratch file for the
// readers that only take a path, and the one way a target reports a broken invariant (abort
// with a message, which libFuzzer and the replay main both treat as a crash).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace shadowsync::fuzz {

// Prints `what` and aborts: the input breaks a contract of the code under test.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz target: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// A path unique to this process (and `tag`), in /dev/shm when it exists (no disk writes per
// execution), else in $TMPDIR or /tmp. Ends in `suffix` (e.g. ".xml" where the reader looks at
// the extension).
inline std::string scratch_path(const std::string& tag, const std::string& suffix = "") {
  std::string folder = "/dev/shm";
  if (access(folder.c_str(), W_OK) != 0) {
    const char* tmp = std::getenv("TMPDIR");
    folder = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  return folder + "/shadowsync-fuzz-" + std::to_string(getpid()) + "-" + tag + suffix;
}

// Replaces the contents of `path` with [data, data + size); aborts if it cannot (that is the
// harness's environment failing, not the code under test).
inline void write_file(const std::string& path, const void* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) fail("cannot write scratch file " + path);
  if (size > 0 && std::fwrite(data, 1, size, f) != size) fail("short write to " + path);
  if (std::fclose(f) != 0) fail("cannot close scratch file " + path);
}

// Removes the scratch file when the process exits normally.
class ScratchFile {
 public:
  explicit ScratchFile(std::string path) : path_(std::move(path)) {}
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace shadowsync::fuzz
