// Checkpoint files: one file holding a training run's whole state, written atomically.
//
// Layout: magic "SSYNCCKP", u32 format version, u32 section count, then sections. Each section
// is: a 32-byte NUL-padded name, u64 payload bytes, u64 checksum of the payload, the payload. The
// first section, "header", is JSON (model and hashing configuration, sync mode, groups,
// progress); the others are raw little-endian floats (replicas, optimizer state, sync state,
// embedding tables and their accumulators). Writing goes through an AtomicFileWriter (a
// temporary unique to the writer, fsync, rename over PATH, fsync of the folder), so a crash
// leaves either the old or the new checkpoint, never half, and two writers of one PATH never
// share a temporary. A training run also holds a CheckpointLock on PATH so that a second run
// given the same --checkpoint is refused instead of racing it.
// Reading mmaps the file and refuses a wrong magic, another version, a truncated file, a section
// whose checksum does not match, a section that appears twice, or a missing section, with a
// message naming the file and which. The header JSON is parsed with parse_untrusted_json (depth
// and duplicate keys bounded) and its fields are read with json_uint / json_field (shadowsync/core/untrusted_json.hpp).
//
// Header fields a trainer writes: format, model, train (the TrainConfig), sync, groups, replicas,
// dense_floats, batch, data {train_rows, eval_rows, fingerprint = data_fingerprint(train rows)},
// progress [per group: batches, examples, iterations, syncs], examples. --resume checks every one
// of them against the run (same model, sync mode, groups, batch, data and eval split; progress a
// consistent prefix of the data). Checkpoints written before "data" was recorded are refused by
// --resume (they cannot be resumed exactly) and still read by eval and predict.
// The model field carries the data's schema (ModelConfig "schema", feature_schema.hpp); the
// sections "embeddings" and "embedding_state" hold one part per table of that schema, in its
// table order (one-hot tables, then multi-hot). A header without "schema" (written before
// schemas existed) is Criteo's layout, whose 26 tables are the same bytes. Version 2 is written
// since schemas exist (so a build that reads version 1 only says "format version 2" rather than
// failing on the unknown "schema" field); versions 1 and 2 are read. --resume, eval and predict refuse data of another
// schema naming the first column that differs (FeatureSchema::first_difference).
//
// Fuzzing: CheckpointReader(path) followed by refuse_unknown_sections(kTrainerCheckpointSections)
// and json("header"), and TrainedModel::load(path), take any bytes written to a file; every bad
// input must end in shadowsync::Error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/data/data_fingerprint.hpp"
#include "shadowsync/data/data_parts.hpp"
#include "core/mapped_file.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/core/untrusted_json.hpp"

namespace shadowsync {

inline constexpr uint32_t kCheckpointVersion = 2;        // written
inline constexpr uint32_t kOldestCheckpointVersion = 1;  // read: kOldestCheckpointVersion..kCheckpointVersion
// The most replicas (and trainer groups) a checkpoint may describe.
inline constexpr uint64_t kMaxCheckpointReplicas = 4096;

// The sections a trainer checkpoint may hold (header first; sync_state only for sync modes
// with state).
inline const std::vector<std::string_view> kTrainerCheckpointSections = {
    "header", "replicas", "dense_state", "embeddings", "embedding_state", "sync_state"};

// An exclusive lock on a checkpoint path for as long as the object lives: flock() on PATH.lock,
// created if needed and removed when the lock is let go (removed while still held, then closed;
// a locker checks after flock that its descriptor is still the file at the path and starts over
// otherwise, so two lockers never hold two different files of one path). A second lock on the
// same path, from this process or another, is refused with Error naming the path and saying
// another training run holds it. The kernel releases the lock when the process dies, so a
// crashed run leaves a PATH.lock that blocks nobody; the next run takes it and removes it.
class CheckpointLock {
 public:
  explicit CheckpointLock(const std::string& checkpoint_path);
  ~CheckpointLock();
  CheckpointLock(const CheckpointLock&) = delete;
  CheckpointLock& operator=(const CheckpointLock&) = delete;

 private:
  std::string lock_path_;
  int fd_ = -1;
};

class CheckpointWriter {
 public:
  // Starts a temporary unique to this writer next to PATH. Throws Error naming the path when it
  // cannot be created.
  explicit CheckpointWriter(std::string path);
  ~CheckpointWriter();  // removes the temporary unless commit() succeeded
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
  AtomicFileWriter file_;
  uint32_t sections_ = 0;
};

class CheckpointReader {
 public:
  // Maps PATH and checks magic, version, section framing, unique section names and every
  // checksum. On any failure the mapping is released before the Error leaves.
  explicit CheckpointReader(const std::string& path);
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& path() const { return path_; }
  bool has(std::string_view name) const;
  // Payload bytes of a section (Error if missing): lets callers check sizes before allocating.
  size_t section_bytes(std::string_view name) const;
  // Error unless the section holds exactly `bytes` bytes ("... has N bytes, the header implies
  // M"): callers check every size the header implies before allocating anything for it.
  void expect_bytes(std::string_view name, uint64_t bytes) const;
  // Error naming the first section whose name is not in `known`.
  void refuse_unknown_sections(const std::vector<std::string_view>& known) const;
  // The section parsed with parse_untrusted_json (depth and duplicate keys bounded).
  nlohmann::json json(std::string_view name) const;
  // Copies a float section into `out`; its size must be exactly `count` floats (Error otherwise).
  void read_floats(std::string_view name, float* out, size_t count) const;
  void read_float_parts(std::string_view name, const std::vector<std::pair<float*, size_t>>& parts) const;
  // What identifies the file's contents: checksum64 of its sections' stored checksums, in file
  // order (no byte is read again), as 16 hex digits. Two checkpoints with the same sections have
  // the same one.
  std::string content_checksum() const;

 private:
  struct Section {
    std::string name;
    const unsigned char* data;
    size_t bytes;
    uint64_t checksum;
  };
  const Section& find(std::string_view name) const;
  std::string path_;
  std::optional<MappedFile> map_;  // the read-only mapping of the file
  std::vector<Section> sections_;
};



}  // namespace shadowsync
