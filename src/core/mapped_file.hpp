// MappedFile (core, private to the library): a read-only mmap of a whole regular file, for the TSV
// reader and the binary cache; open_regular_file(), the one place input files are opened (data,
// checkpoints, model files); read_small_file() for configuration files. Errors
// (missing, unreadable, directory, FIFO, device, socket) name the file; nothing ever blocks on a
// FIFO or device: the file is opened with O_NONBLOCK and checked with fstat first.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace shadowsync {

// "a FIFO", "a character device", "a block device", "a socket", "a directory", "a symbolic
// link" or "not a regular file" for the st_mode of a non-regular file.
std::string describe_file_type(mode_t mode);

// Opens `path` read-only (O_NONBLOCK, then cleared) and returns its descriptor after fstat has
// shown a regular file. Throws Error naming the file otherwise, e.g.
//   "x: is a FIFO; binary caches, checkpoints and model files are read as regular files (only text data can be streamed)".
// `*size` (if given) receives the file size. The caller closes the descriptor.
int open_regular_file(const std::string& path, size_t* size = nullptr);

// The whole content of a small regular file (opened with open_regular_file). Throws Error naming
// the file when it cannot be read or is larger than `max_bytes`.
std::string read_small_file(const std::string& path, size_t max_bytes);

class MappedFile {
 public:
  // Maps `path` read-only (opened with open_regular_file). An empty file gives size() == 0 and
  // no mapping.
  explicit MappedFile(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const char* data() const { return static_cast<const char*>(map_); }
  size_t size() const { return size_; }
  std::string_view text() const { return {data(), size_}; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shadowsync
