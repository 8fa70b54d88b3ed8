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

// What open_input_file accepts besides a regular file: nothing (caches, checkpoints, model
// files: they are mapped or read whole), or also the streams text data may come from (a FIFO,
// a character device).
enum class InputKinds { RegularOnly, FilesAndStreams };

// The one place input files are opened: read-only with O_NONBLOCK (so fstat can tell what it is
// without waiting on a FIFO), checked, then switched to blocking reads. A FIFO (FilesAndStreams)
// is reopened blocking, which waits for its writer as `cat` does. Returns the descriptor (the
// caller closes it). Throws Error naming the file otherwise, e.g.
//   "x: is a FIFO; binary caches, checkpoints and model files are read as regular files (only text data can be streamed)".
// `*size` (if given) receives the file size (0 for a stream).
int open_input_file(const std::string& path, InputKinds kinds, size_t* size = nullptr);

// open_input_file(path, InputKinds::RegularOnly, size).
inline int open_regular_file(const std::string& path, size_t* size = nullptr) {
  return open_input_file(path, InputKinds::RegularOnly, size);
}

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
