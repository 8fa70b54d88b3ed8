// Checkpoint writing (atomic: temp file, fsync, rename, fsync folder) and reading (mmap and
// validate every section). Format in include/shadowsync/checkpoint.hpp.
#include "shadowsync/checkpoint.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "shadowsync/checksum.hpp"
#include "shadowsync/error.hpp"

namespace shadowsync {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'Y', 'N', 'C', 'C', 'K', 'P'};
constexpr size_t kNameBytes = 32;
constexpr size_t kPreambleBytes = 8 + 4 + 4;
constexpr size_t kSectionHeaderBytes = kNameBytes + 8 + 8;

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("checkpoint '" + path + "': write failed: " + errno_text());
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace

CheckpointWriter::CheckpointWriter(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp") {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error("checkpoint '" + path_ + "': cannot create '" + temp_path_ + "': " + errno_text());
  }
  // The section count is patched in commit().
  const uint32_t version = kCheckpointVersion;
  const uint32_t count = 0;
  write_all(fd_, kMagic, sizeof kMagic, temp_path_);
  write_all(fd_, &version, sizeof version, temp_path_);
  write_all(fd_, &count, sizeof count, temp_path_);
}

CheckpointWriter::~CheckpointWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void CheckpointWriter::write_section(std::string_view name,
                                     const std::vector<std::pair<const void*, size_t>>& parts) {
  if (name.size() >= kNameBytes) throw Error("checkpoint: section name too long: " + std::string(name));
  char header[kSectionHeaderBytes] = {};
  std::memcpy(header, name.data(), name.size());
  uint64_t bytes = 0;
  Checksum64 sum;
  for (const auto& [data, size] : parts) {
    bytes += size;
    sum.update(data, size);
  }
  const uint64_t checksum = sum.digest();
  std::memcpy(header + kNameBytes, &bytes, 8);
  std::memcpy(header + kNameBytes + 8, &checksum, 8);
  write_all(fd_, header, sizeof header, temp_path_);
  for (const auto& [data, size] : parts) write_all(fd_, data, size, temp_path_);
  ++sections_;
}

void CheckpointWriter::add_json(std::string_view name, const nlohmann::json& value) {
  const std::string text = value.dump();
  write_section(name, {{text.data(), text.size()}});
}

void CheckpointWriter::add_floats(std::string_view name, const float* data, size_t count) {
  write_section(name, {{data, count * sizeof(float)}});
}

void CheckpointWriter::add_float_parts(std::string_view name,
                                       const std::vector<std::pair<const float*, size_t>>& parts) {
  std::vector<std::pair<const void*, size_t>> raw;
  raw.reserve(parts.size());
  for (const auto& [data, count] : parts) raw.emplace_back(data, count * sizeof(float));
  write_section(name, raw);
}

void CheckpointWriter::commit() {
  if (::pwrite(fd_, &sections_, sizeof sections_, 12) != static_cast<ssize_t>(sizeof sections_)) {
    throw Error("checkpoint '" + path_ + "': write failed: " + errno_text());
  }
  if (::fsync(fd_) != 0) throw Error("checkpoint '" + path_ + "': fsync failed: " + errno_text());
  ::close(fd_);
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw Error("checkpoint '" + path_ + "': cannot rename '" + temp_path_ + "': " + errno_text());
  }
  committed_ = true;
  std::filesystem::path folder = std::filesystem::path(path_).parent_path();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

CheckpointReader::CheckpointReader(const std::string& path) : path_(path) {
  const std::string where = "checkpoint '" + path + "'";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(where + ": cannot open: " + errno_text());
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(where + ": not a regular file");
  }
  map_bytes_ = static_cast<size_t>(st.st_size);
  if (map_bytes_ < kPreambleBytes) {
    ::close(fd);
    throw Error(where + ": truncated (" + std::to_string(map_bytes_) + " bytes, not a checkpoint)");
  }
  map_ = ::mmap(nullptr, map_bytes_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(where + ": cannot map: " + errno_text());
  }
  const auto* base = static_cast<const unsigned char*>(map_);
  if (std::memcmp(base, kMagic, sizeof kMagic) != 0) {
    throw Error(where + ": not a shadowsync checkpoint (wrong magic)");
  }
  uint32_t version = 0;
  uint32_t count = 0;
  std::memcpy(&version, base + 8, 4);
  std::memcpy(&count, base + 12, 4);
  if (version != kCheckpointVersion) {
    throw Error(where + ": format version " + std::to_string(version) + ", this build reads version " +
                std::to_string(kCheckpointVersion));
  }
  size_t offset = kPreambleBytes;
  for (uint32_t i = 0; i < count; ++i) {
    if (map_bytes_ - offset < kSectionHeaderBytes) {
      throw Error(where + ": truncated (section " + std::to_string(i + 1) + " of " +
                  std::to_string(count) + " is missing)");
    }
    const char* name_bytes = reinterpret_cast<const char*>(base + offset);
    std::string name(name_bytes, strnlen(name_bytes, kNameBytes));
    uint64_t bytes = 0;
    uint64_t checksum = 0;
    std::memcpy(&bytes, base + offset + kNameBytes, 8);
    std::memcpy(&checksum, base + offset + kNameBytes + 8, 8);
    offset += kSectionHeaderBytes;
    if (bytes > map_bytes_ - offset) {
      throw Error(where + ": truncated (section '" + name + "' needs " + std::to_string(bytes) +
                  " bytes, " + std::to_string(map_bytes_ - offset) + " left)");
    }
    if (checksum64(base + offset, bytes) != checksum) {
      throw Error(where + ": section '" + name + "' is corrupted (checksum mismatch)");
    }
    sections_.push_back(Section{name, base + offset, static_cast<size_t>(bytes)});
    offset += bytes;
  }
  if (offset != map_bytes_) {
    throw Error(where + ": " + std::to_string(map_bytes_ - offset) + " unexpected bytes after the last section");
  }
}

CheckpointReader::~CheckpointReader() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

bool CheckpointReader::has(std::string_view name) const {
  for (const Section& s : sections_) {
    if (s.name == name) return true;
  }
  return false;
}

const CheckpointReader::Section& CheckpointReader::find(std::string_view name) const {
  for (const Section& s : sections_) {
    if (s.name == name) return s;
  }
  throw Error("checkpoint '" + path_ + "': section '" + std::string(name) + "' is missing");
}

nlohmann::json CheckpointReader::json(std::string_view name) const {
  const Section& s = find(name);
  try {
    return nlohmann::json::parse(reinterpret_cast<const char*>(s.data),
                                 reinterpret_cast<const char*>(s.data) + s.bytes);
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint '" + path_ + "': section '" + std::string(name) + "' is not valid JSON: " + e.what());
  }
}

void CheckpointReader::read_floats(std::string_view name, float* out, size_t count) const {
  read_float_parts(name, {{out, count}});
}

void CheckpointReader::read_float_parts(std::string_view name,
                                        const std::vector<std::pair<float*, size_t>>& parts) const {
  const Section& s = find(name);
  size_t expected = 0;
  for (const auto& part : parts) expected += part.second * sizeof(float);
  if (s.bytes != expected) {
    throw Error("checkpoint '" + path_ + "': section '" + std::string(name) + "' has " +
                std::to_string(s.bytes) + " bytes, this model needs " + std::to_string(expected));
  }
  size_t offset = 0;
  for (const auto& [out, count] : parts) {
    std::memcpy(out, s.data + offset, count * sizeof(float));
    offset += count * sizeof(float);
  }
}

}  // namespace shadowsync
