// MappedFile (private to src/data): a read-only mmap of a whole regular file, for the TSV reader
// and the binary cache. Errors (missing, unreadable, directory, not a regular file) name the file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shadowsync::data {

class MappedFile {
 public:
  // Maps `path` read-only. An empty file gives size() == 0 and no mapping.
  explicit MappedFile(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const char* data() const { return static_cast<const char*>(map_); }
  size_t size() const { return size_; }
  std::string_view text() const { return {data(), size_}; }

  // Gives up ownership of the mapping (the caller munmaps it with `size()` bytes).
  void* release();

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shadowsync::data
