// Checkpoint writing (through AtomicFileWriter), the checkpoint lock, reading (mmap and validate
// every section) and typed header access. Format in src/train/checkpoint.hpp.
#include "train/checkpoint.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <filesystem>

#include <fmt/format.h>

#include "core/checksum.hpp"
#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

constexpr char kMagic[8] = {'S', 'S', 'Y', 'N', 'C', 'C', 'K', 'P'};
constexpr size_t kNameBytes = 32;
constexpr size_t kPreambleBytes = 8 + 4 + 4;
constexpr size_t kSectionHeaderBytes = kNameBytes + 8 + 8;

std::string errno_text() { return std::strerror(errno); }

}  // namespace

CheckpointLock::CheckpointLock(const std::string& checkpoint_path) : lock_path_(checkpoint_path + ".lock") {
  // The holder removes the lock file when it lets go, so a file opened just before that removal
  // is no longer the lock: after flock succeeds, the descriptor must still be the file at the
  // path, or the open and the lock are tried again.
  for (;;) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw Error("checkpoint '" + checkpoint_path + "': cannot create its lock file '" + lock_path_ +
                  "': " + errno_text());
    }
    int locked;
    while ((locked = ::flock(fd_, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (locked != 0) {
      const int error = errno;
      ::close(fd_);
      fd_ = -1;
      if (error == EWOULDBLOCK) {
        throw Error("checkpoint '" + checkpoint_path + "' is in use: another training run holds its lock '" +
                    lock_path_ + "'; give this run another " + field("checkpoint") +
                    " path or wait for that run to end");
      }
      throw Error("checkpoint '" + checkpoint_path + "': cannot lock '" + lock_path_ + "': " + std::strerror(error));
    }
    struct stat held{}, at_path{};
    if (::fstat(fd_, &held) == 0 && ::stat(lock_path_.c_str(), &at_path) == 0 && held.st_dev == at_path.st_dev &&
        held.st_ino == at_path.st_ino) {
      return;
    }
    ::close(fd_);  // the file was removed (or replaced) by the previous holder: lock the new one
    fd_ = -1;
  }
}

CheckpointLock::~CheckpointLock() {
  if (fd_ < 0) return;
  // Removed while still held, then released: a run waiting on this file sees it gone and takes
  // a new one, so two runs never hold locks on two files of the same path.
  ::unlink(lock_path_.c_str());
  ::close(fd_);  // closing the only descriptor releases the flock
}

CheckpointWriter::CheckpointWriter(std::string path) : file_(std::move(path)) {
  // The section count is patched in commit().
  const uint32_t version = kCheckpointVersion;
  const uint32_t count = 0;
  file_.write(kMagic, sizeof kMagic);
  file_.write(&version, sizeof version);
  file_.write(&count, sizeof count);
}

CheckpointWriter::~CheckpointWriter() = default;

void CheckpointWriter::write_section(std::string_view name,
                                     const std::vector<std::pair<const void*, size_t>>& parts) {
  if (name.empty() || name.size() >= kNameBytes) {
    throw Error("checkpoint '" + file_.path() + "': bad section name '" + std::string(name) + "'");
  }
  char header[kSectionHeaderBytes] = {};
  std::memcpy(header, name.data(), name.size());
  uint64_t bytes = 0;
  Checksum64 sum;
  for (const auto& [data, size] : parts) {
    if (size == 0) continue;  // an empty part may come with a null pointer
    bytes += size;
    sum.update(data, size);
  }
  const uint64_t checksum = sum.digest();
  std::memcpy(header + kNameBytes, &bytes, 8);
  std::memcpy(header + kNameBytes + 8, &checksum, 8);
  file_.write(header, sizeof header);
  for (const auto& [data, size] : parts) {
    if (size > 0) file_.write(data, size);
  }
  ++sections_;
}

void CheckpointWriter::add_json(std::string_view name, const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // paths may not be UTF-8
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
  file_.write_at(12, &sections_, sizeof sections_);
  file_.commit();
}

CheckpointReader::CheckpointReader(const std::string& path) : path_(path) {
  const std::string where = "checkpoint '" + path + "'";
  try {
    map_.emplace(path);  // never blocks on a FIFO; from here on every throw unmaps
  } catch (const Error& e) {
    throw Error("checkpoint " + e.marked());
  }
  const size_t file_bytes = map_->size();
  if (file_bytes < kPreambleBytes) {
    throw Error(where + ": truncated (" + std::to_string(file_bytes) + " bytes, not a checkpoint)");
  }
  const void* data = map_->data();
  const auto* base = static_cast<const unsigned char*>(data);
  if (std::memcmp(base, kMagic, sizeof kMagic) != 0) {
    throw Error(where + ": not a shadowsync checkpoint (wrong magic)");
  }
  uint32_t version = 0;
  uint32_t count = 0;
  std::memcpy(&version, base + 8, 4);
  std::memcpy(&count, base + 12, 4);
  if (version < kOldestCheckpointVersion || version > kCheckpointVersion) {
    throw Error(where + ": format version " + std::to_string(version) + ", this build reads versions " +
                std::to_string(kOldestCheckpointVersion) + " to " + std::to_string(kCheckpointVersion));
  }
  size_t offset = kPreambleBytes;
  std::set<std::string> names;  // a set, so a file of a million tiny sections is not quadratic
  for (uint32_t i = 0; i < count; ++i) {
    if (file_bytes - offset < kSectionHeaderBytes) {
      throw Error(where + ": truncated (section " + std::to_string(i + 1) + " of " +
                  std::to_string(count) + " is missing)");
    }
    const char* name_bytes = reinterpret_cast<const char*>(base + offset);
    std::string name(name_bytes, strnlen(name_bytes, kNameBytes));
    for (char& c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';  // printable in messages
    }
    uint64_t bytes = 0;
    uint64_t checksum = 0;
    std::memcpy(&bytes, base + offset + kNameBytes, 8);
    std::memcpy(&checksum, base + offset + kNameBytes + 8, 8);
    offset += kSectionHeaderBytes;
    if (bytes > file_bytes - offset) {
      throw Error(where + ": truncated (section '" + name + "' needs " + std::to_string(bytes) +
                  " bytes, " + std::to_string(file_bytes - offset) + " left)");
    }
    if (checksum64(base + offset, bytes) != checksum) {
      throw Error(where + ": section '" + name + "' is corrupted (checksum mismatch)");
    }
    if (!names.insert(name).second) throw Error(where + ": section '" + name + "' appears twice");
    sections_.push_back(Section{name, base + offset, static_cast<size_t>(bytes), checksum});
    offset += bytes;
  }
  if (offset != file_bytes) {
    throw Error(where + ": " + std::to_string(file_bytes - offset) + " unexpected bytes after the last section");
  }
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

size_t CheckpointReader::section_bytes(std::string_view name) const { return find(name).bytes; }

void CheckpointReader::expect_bytes(std::string_view name, uint64_t bytes) const {
  const Section& s = find(name);
  if (s.bytes != bytes) {
    throw Error("checkpoint '" + path_ + "': section '" + std::string(name) + "' has " + std::to_string(s.bytes) +
                " bytes, the header implies " + std::to_string(bytes));
  }
}

void CheckpointReader::refuse_unknown_sections(const std::vector<std::string_view>& known) const {
  for (const Section& s : sections_) {
    bool listed = false;
    for (std::string_view k : known) listed = listed || s.name == k;
    if (!listed) throw Error("checkpoint '" + path_ + "': unknown section '" + s.name + "'");
  }
}

nlohmann::json CheckpointReader::json(std::string_view name) const {
  const Section& s = find(name);
  return parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(s.data), s.bytes),
                              "checkpoint '" + path_ + "': section '" + std::string(name) + "'");
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

std::string CheckpointReader::content_checksum() const {
  std::vector<uint64_t> sums;
  for (const Section& s : sections_) sums.push_back(s.checksum);
  return fmt::format("{:016x}", checksum64(sums.data(), sums.size() * sizeof(uint64_t)));
}

}  // namespace shadowsync
