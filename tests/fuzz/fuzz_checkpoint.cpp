// Fuzz target: the checkpoint reader (CheckpointReader), the header fields a resume reads first
// (row format, sync_optimizer_state, the warm-up), the header's model as --init-from reads it
// (init_from_model_config), and model loading (TrainedModel::load, the init_chain included)
// on a file of arbitrary bytes. The harness first repairs every section checksum that the
// framing lets it find, so that mutations reach the header JSON, the model configuration and
// the section sizes instead of all stopping at "checksum mismatch". A bad checkpoint must be
// refused with shadowsync::Error; any other exception, crash or huge allocation is a finding.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_util.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_header.hpp"
#include "core/checksum.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/trained_model.hpp"

using namespace shadowsync;

namespace {

// Framing of src/train/checkpoint.hpp: 8-byte magic, u32 version, u32 section count;
// each section: 32-byte name, u64 payload bytes, u64 checksum64 of the payload, the payload.
constexpr size_t kFileHeaderBytes = 16, kNameBytes = 32, kSectionHeaderBytes = kNameBytes + 16;

void repair_checksums(std::vector<uint8_t>& file) {
  size_t at = kFileHeaderBytes;
  while (at + kSectionHeaderBytes <= file.size()) {
    uint64_t bytes = 0;
    std::memcpy(&bytes, file.data() + at + kNameBytes, 8);
    const size_t payload = at + kSectionHeaderBytes;
    if (bytes > file.size() - payload) return;
    const uint64_t sum = checksum64(file.data() + payload, bytes);
    std::memcpy(file.data() + at + kNameBytes + 8, &sum, 8);
    at = payload + bytes;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("checkpoint", ".ckpt"));
  std::vector<uint8_t> file(data, data + size);
  repair_checksums(file);
  fuzz::write_file(scratch.path(), file.data(), file.size());
  try {
    const CheckpointReader reader(scratch.path());
    if (reader.has("header")) {
      const nlohmann::json header = reader.json("header");
      try {
        train::checkpoint_row_format(header, "fuzz");
      } catch (const Error&) {
      }
      try {
        train::checkpoint_optimizer_state_sync(header, "fuzz");
      } catch (const Error&) {
      }
      const double warmup = train::checkpoint_sync_warmup(header, "fuzz");
      if (!(warmup >= 0.0 && warmup < 1.0)) fuzz::fail("an accepted header warm-up is outside [0, 1)");
    }
    reader.content_checksum();
  } catch (const Error&) {
  }
  try {  // the header's model, as train --init-from reads it before anything else
    init_from_model_config(scratch.path());
  } catch (const Error&) {
  }
  try {
    const TrainedModel model = TrainedModel::load(scratch.path());
  } catch (const Error&) {
  }
  return 0;
}
