// Checkpoint files: one file holding a training run's whole state, written atomically.
//
// Layout: magic "SSYNCCKP", u32 format version, u32 section count, then sections. Each section
// is: a 32-byte NUL-padded name, u64 payload bytes, u64 checksum of the payload, the payload. The
// first section, "header", is JSON (model and hashing configuration, sync mode, groups,
// progress); the others are raw little-endian floats (replicas, optimizer state, sync state,
// embedding tables and their accumulators). Writing goes to PATH.tmp, fsyncs it, renames it over
// PATH and fsyncs the folder, so a crash leaves either the old or the new checkpoint, never half.
// Reading mmaps the file and refuses a wrong magic, another version, a truncated file, a section
// whose checksum does not match, or a missing section, with a message naming the file and which.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shadowsync {

inline constexpr uint32_t kCheckpointVersion = 1;

class CheckpointWriter {
 public:
  // Starts PATH.tmp. Throws Error naming the path when it cannot be created.
  explicit CheckpointWriter(std::string path);
  ~CheckpointWriter();  // removes PATH.tmp unless commit() succeeded
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  void add_json(std::string_view name, const nlohmann::json& value);
  void add_floats(std::string_view name, const float* data, size_t count);
  // Several buffers written back to back as one section (e.g. 26 embedding tables).
  void add_float_parts(std::string_view name, const std::vector<std::pair<const float*, size_t>>& parts);
  // fsync, rename over PATH, fsync the folder. Throws Error naming the path on failure.
  void commit();

 private:
  void write_section(std::string_view name, const std::vector<std::pair<const void*, size_t>>& parts);
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint32_t sections_ = 0;
  bool committed_ = false;
};

class CheckpointReader {
 public:
  // Maps PATH and checks magic, version, section framing and every checksum.
  explicit CheckpointReader(const std::string& path);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& path() const { return path_; }
  bool has(std::string_view name) const;
  nlohmann::json json(std::string_view name) const;
  // Copies a float section into `out`; its size must be exactly `count` floats (Error otherwise).
  void read_floats(std::string_view name, float* out, size_t count) const;
  void read_float_parts(std::string_view name, const std::vector<std::pair<float*, size_t>>& parts) const;

 private:
  struct Section {
    std::string name;
    const unsigned char* data;
    size_t bytes;
  };
  const Section& find(std::string_view name) const;
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  std::vector<Section> sections_;
};

}  // namespace shadowsync
