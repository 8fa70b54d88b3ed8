// Fuzz target: the binary cache reader (MappedCache::open through Dataset::open, and
// read_cache_hashing) on a file of arbitrary bytes. The harness first repairs the header and
// column checksums wherever the layout fits the input, so that mutations reach the checks
// behind them (sizes, hashing, value ranges) instead of all stopping at "checksum mismatch".
// A cache that opens must hold only well-formed examples (validate_view must accept it).
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_util.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "core/checksum.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/core/error.hpp"

using namespace shadowsync;

namespace {

// Header layout of src/data/binary_cache.cpp (format version 1).
constexpr size_t kHeaderBytes = 320;
constexpr size_t kRowsAt = 16, kColumnChecksumAt = 240, kHeaderChecksumAt = 264;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

void repair_checksums(std::vector<uint8_t>& file) {
  if (file.size() < kHeaderBytes) return;
  uint64_t rows = 0;
  std::memcpy(&rows, file.data() + kRowsAt, 8);
  if (rows <= file.size()) {  // else the columns cannot fit: leave the checksums as they are
    const size_t bytes[3] = {rows * 4, rows * 4 * kNumNumeric, rows * 4 * kNumSparse};
    size_t at = kHeaderBytes;
    for (int c = 0; c < 3; ++c) {
      if (at + bytes[c] > file.size()) break;
      const uint64_t sum = checksum64(file.data() + at, bytes[c]);
      std::memcpy(file.data() + kColumnChecksumAt + 8 * c, &sum, 8);
      at = align64(at + bytes[c]);
    }
  }
  const uint64_t header_sum = checksum64(file.data(), kHeaderChecksumAt);
  std::memcpy(file.data() + kHeaderChecksumAt, &header_sum, 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("cache", ".bin"));
  std::vector<uint8_t> file(data, data + size);
  repair_checksums(file);
  fuzz::write_file(scratch.path(), file.data(), file.size());

  has_cache_magic(scratch.path());
  std::optional<HashingConfig> hashing;
  try {
    hashing = read_cache_hashing(scratch.path());  // Error for a cache with a bad header
  } catch (const Error&) {
  }
  ParseOptions options;
  options.hashing = hashing.value_or(HashingConfig::uniform(1000, 7));
  try {
    const Dataset dataset = Dataset::open(scratch.path(), options);
    try {
      validate_view(dataset.view(), options.hashing, "fuzz cache");
    } catch (const Error& e) {
      fuzz::fail(std::string("an opened cache holds a bad example: ") + e.what());
    }
  } catch (const Error&) {
    // Refused with a message: what a bad cache must get.
  }
  // The same file against a hashing it was not written with must be refused, never reused.
  if (hashing && !(*hashing == HashingConfig::uniform(3, 1))) {
    try {
      MappedCache::open(scratch.path(), HashingConfig::uniform(3, 1));
      fuzz::fail("a cache opened with another hashing than its own");
    } catch (const Error&) {
    }
  }
  return 0;
}
