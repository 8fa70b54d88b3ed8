// Fuzz target: the binary cache reader (MappedCache::open through Dataset::open, and
// read_cache_hashing) on a file of arbitrary bytes. The harness first repairs the header and
// column checksums wherever the layout fits the input, so that mutations reach the checks
// behind them (sizes, hashing, value ranges) instead of all stopping at "checksum mismatch".
// A cache that opens must hold only well-formed examples (validate_view must accept it).
// Format 2 inputs are compact, so that a whole cache fits the fuzzer's input size: the first
// 280 bytes of the header, then the columns one after the other (labels, numeric, sparse of
// `rows` rows), then any extra bytes; the harness lays them out as the format's zero-padded
// header and row blocks (make_seeds writes the seeds in this form). Other inputs are written
// as they are (format 1: its checksums repaired; format 3: its header, extension and section
// checksums, and the column checksums of a cache of one row block, repaired). A cache of another
// schema than Criteo's that opens must hold rows the cache writer accepts for its schema.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "fuzz_util.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "core/checksum.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/core/error.hpp"

using namespace shadowsync;

namespace {

// Header layout of src/data/binary_cache.cpp (format version 1; format 2 shares these fields).
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

// Format 2 (src/data/binary_cache.cpp): header fields, block schedule, 4096-byte header.
constexpr size_t kV2HeaderFields = 280, kV2HeaderBytes = 4096, kV2BlockRowsAt = 264,
                 kV2HeaderChecksumAt = 272, kPiece = 4096;
constexpr uint64_t kMaxExpandedRows = 1 << 16;

size_t align_piece(size_t n) { return (n + kPiece - 1) / kPiece * kPiece; }

// Expands a compact format-2 input into the file layout and repairs its checksums. Returns
// false (input written as it is) when it is not a format-2 input the harness can lay out.
bool expand_format2(const std::vector<uint8_t>& input, std::vector<uint8_t>& file) {
  if (input.size() < kV2HeaderFields) return false;
  uint32_t version = 0, first = 0, max = 0;
  uint64_t rows = 0;
  std::memcpy(&version, input.data() + 8, 4);
  std::memcpy(&rows, input.data() + kRowsAt, 8);
  std::memcpy(&first, input.data() + kV2BlockRowsAt, 4);
  std::memcpy(&max, input.data() + kV2BlockRowsAt + 4, 4);
  // A first block larger than kMaxExpandedRows would lay out up to 56 bytes a row of padding
  // (a 2^24-row block: a 940 MB file, over the fuzzer's memory limit): written as it is instead.
  if (version != 2 || rows == 0 || rows > kMaxExpandedRows || first < 1024 || max < first ||
      (first & (first - 1)) != 0 || (max & (max - 1)) != 0 || max > (1u << 24) ||
      first > kMaxExpandedRows) {
    return false;
  }
  const size_t row_bytes[3] = {4, 4 * kNumNumeric, 4 * kNumSparse};
  const uint8_t* columns = input.data() + kV2HeaderFields;
  const size_t compact = input.size() - kV2HeaderFields;
  file.assign(kV2HeaderBytes, 0);
  std::memcpy(file.data(), input.data(), kV2HeaderFields);
  uint64_t first_row = 0, capacity = first;
  size_t offset = kV2HeaderBytes;
  size_t column_start[3] = {0, rows * row_bytes[0], rows * (row_bytes[0] + row_bytes[1])};
  for (;;) {
    const uint64_t here = std::min<uint64_t>(capacity, rows - first_row);
    size_t piece_at = 0;
    for (int c = 0; c < 3; ++c) {
      const bool last_piece = first_row + here == rows && c == 2;
      const size_t piece_bytes = last_piece ? align_piece(here * row_bytes[c]) : capacity * row_bytes[c];
      file.resize(std::max(file.size(), offset + piece_at + piece_bytes), 0);
      const size_t from = column_start[c] + first_row * row_bytes[c];
      const size_t n = here * row_bytes[c];
      if (from < compact) {
        std::memcpy(file.data() + offset + piece_at, columns + from, std::min(n, compact - from));
      }
      piece_at += capacity * row_bytes[c];
    }
    first_row += here;
    if (first_row == rows) break;
    offset += piece_at;
    capacity = std::min<uint64_t>(capacity * 2, max);
  }
  const size_t needed = column_start[2] + rows * row_bytes[2];
  if (compact < needed) {
    file.resize(file.size() - std::min(file.size() - kV2HeaderBytes, needed - compact));
  } else {
    file.insert(file.end(), columns + needed, columns + compact);
  }
  for (int c = 0; c < 3; ++c) {
    const size_t n = rows * row_bytes[c];
    if (column_start[c] + n <= compact) {
      const uint64_t sum = checksum64(columns + column_start[c], n);
      std::memcpy(file.data() + kColumnChecksumAt + 8 * c, &sum, 8);
    }
  }
  const uint64_t header_sum = checksum64(file.data(), kV2HeaderChecksumAt);
  std::memcpy(file.data() + kV2HeaderChecksumAt, &header_sum, 8);
  return true;
}

// Format 3 (src/data/binary_cache.cpp): format 2's fields, the extension at byte 280 (widths,
// list ids, checksums of the lengths and ids, schema and section bytes, section checksum,
// extension checksum) and the section at byte 512.
constexpr size_t kV3WidthsAt = 280, kV3BagIdsAt = 296, kV3BagChecksumAt = 304, kV3SectionBytesAt = 324,
                 kV3SectionChecksumAt = 328, kV3ExtChecksumAt = 336, kV3SectionAt = 512;

template <typename T>
T load(const std::vector<uint8_t>& file, size_t at) {
  T v{};
  std::memcpy(&v, file.data() + at, sizeof v);
  return v;
}

// Repairs the checksums of a format-3 file in place (the column checksums only when its rows fit
// the first row block). Returns false when it is not a format-3 file.
bool repair_format3(std::vector<uint8_t>& file) {
  if (file.size() < kV3SectionAt || load<uint32_t>(file, 8) != 3) return false;
  const uint32_t section_bytes = load<uint32_t>(file, kV3SectionBytesAt);
  if (section_bytes <= file.size() - kV3SectionAt) {
    const uint64_t sum = checksum64(file.data() + kV3SectionAt, section_bytes);
    std::memcpy(file.data() + kV3SectionChecksumAt, &sum, 8);
  }
  const uint64_t rows = load<uint64_t>(file, kRowsAt);
  const uint64_t first = load<uint32_t>(file, kV2BlockRowsAt);
  const uint64_t header_bytes = load<uint32_t>(file, 12);
  const uint64_t widths[3] = {load<uint32_t>(file, kV3WidthsAt), load<uint32_t>(file, kV3WidthsAt + 4),
                              load<uint32_t>(file, kV3WidthsAt + 8)};
  if (rows > 0 && rows <= first && first <= kMaxExpandedRows && widths[0] < 4096 && widths[1] < 4096 &&
      widths[2] < 4096 && header_bytes < file.size()) {
    const uint64_t row_bytes[4] = {4, 4 * widths[0], 4 * widths[1], 4 * widths[2]};
    uint64_t at = header_bytes;
    int last = 0;
    uint64_t last_at = at;
    for (int c = 0; c < 4; ++c) {
      if (row_bytes[c] == 0) continue;
      const uint64_t n = rows * row_bytes[c];
      if (at + n <= file.size()) {
        const uint64_t sum = checksum64(file.data() + at, n);
        std::memcpy(file.data() + (c < 3 ? kColumnChecksumAt + 8 * c : kV3BagChecksumAt), &sum, 8);
      }
      last = c;
      last_at = at;
      at += first * row_bytes[c];
    }
    const uint64_t ids_at = last_at + align_piece(rows * row_bytes[last]);
    const uint64_t ids = load<uint64_t>(file, kV3BagIdsAt);
    if (ids <= file.size() && ids_at + 4 * ids <= file.size()) {
      const uint64_t sum = checksum64(file.data() + ids_at, 4 * ids);
      std::memcpy(file.data() + kV3BagChecksumAt + 8, &sum, 8);
    }
  }
  const uint64_t ext_sum = checksum64(file.data() + kV3WidthsAt, kV3ExtChecksumAt - kV3WidthsAt);
  std::memcpy(file.data() + kV3ExtChecksumAt, &ext_sum, 8);
  const uint64_t header_sum = checksum64(file.data(), kV2HeaderChecksumAt);
  std::memcpy(file.data() + kV2HeaderChecksumAt, &header_sum, 8);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("cache", ".bin"));
  const std::vector<uint8_t> input(data, data + size);
  std::vector<uint8_t> file;
  if (!expand_format2(input, file)) {
    file = input;
    if (!repair_format3(file)) repair_checksums(file);
  }
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
      if (dataset.schema().is_criteo()) {
        validate_view(dataset.view(), options.hashing, "fuzz cache");
      } else {
        static const fuzz::ScratchFile again(fuzz::scratch_path("cache-again", ".bin"));
        write_cache(again.path(), dataset.view(), options.hashing, {}, dataset.schema());
      }
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
