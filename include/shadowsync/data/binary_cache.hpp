// Binary cache of parsed, transformed and hashed examples: written once by `shadowsync convert`,
// then mmapped and read in place (no parse) by MappedCache.
//
// File layout, format 3 (written; little-endian): format 2's layout below, generalized to the
//   data's schema, and the schema itself:
//   header (header bytes, a multiple of 4096; 4096 for Criteo's layout): format 2's fields (its
//     rows[26] and numeric_missing[13] hold the first entries only), then at byte 280 the
//     extension: u32 numeric, categorical and multi-hot widths (N, S, M), u32 tables (S + M), u64
//     list ids, u64 checksum64 of the list lengths column and of the ids section, u32 schema
//     bytes, u32 section bytes, u64 checksum64 of the section, u64 checksum64 of the extension
//     before it; then at byte 512 the section: u32 rows[tables] (padded to 8 bytes), u64
//     numeric_missing[N] (the count of every numeric column), the schema's JSON
//     text (FeatureSchema::to_json).
//   row blocks as in format 2 with pieces labels float[capacity], numeric float[capacity*N],
//     sparse u32[capacity*S] and list lengths u32[capacity*M] (row-major; pieces of width 0 are
//     left out); the blocks end with the last block's last piece padded to 4096 bytes.
//   then the multi-hot list ids u32[list ids] in row order, padded to 4096 bytes (none when M = 0).
//   The writer holds the list ids in memory until commit (4 bytes per id); the reader builds
//   the list offsets (8 bytes per row and multi-hot column) from the lengths.
// Format 2 (read only, as Criteo's layout):
//   header (4096 bytes): magic "SSYNCDAT", u32 version 2, u32 header bytes, u64 rows,
//     u32 rows[26] and u64 salt (the full HashingConfig), u64 numeric_missing[13],
//     u64 checksum64 of each whole column (labels, numeric, sparse, in row order),
//     u32 first_block_rows (1024), u32 max_block_rows (2^20), u64 checksum64 of the header bytes
//     before it; zero padding.
//   then row blocks: block k holds min(first << k, max) rows (its capacity) and follows the
//   previous one; inside it labels float[capacity], numeric float[capacity*13] and sparse
//   u32[capacity*26], so every piece starts at a multiple of 4096 bytes. The last block is
//   partial: its rows are at the start of each piece, the rest of its labels and numeric pieces
//   is never written (a hole, read as zeros) and the file ends with its sparse piece padded to
//   4096 bytes (at most 56 x 2^20 bytes more than the rows need; not stored on file systems with
//   sparse files). The writer appends rows in place, without knowing the final count; the reader
//   maps each column's pieces side by side into one reserved address range, so the view is
//   contiguous (3 mappings per block: ~13,000 for 4.4 billion rows, under Linux's default 65,530).
// Format 1 (read only): a 320-byte header (the same fields up to the column checksums, then the
//   header checksum at byte 264), then labels, numeric and sparse columns of `rows` rows, each
//   starting at a multiple of 64 bytes, nothing after the last column.
// Formats 1 and 2 are read as Criteo's layout (FeatureSchema::criteo()).
// Opening validates, in this order, and throws Error naming the file and the cause: not a
// regular readable file; wrong magic; shorter than its header; other version; corrupted header
// (format 3: the extension's and the section's checksums, then the stored schema's JSON, which
// must be a valid schema of the header's widths);
// impossible row count or block sizes; truncated or oversized;
// hashing differs from the expected one; a column checksum mismatch; a numeric_missing count larger
// than the row count; values the parser cannot produce (validate_view for Criteo's layout: labels
// not 0/1, numeric values other than 0 or log1p(x) for 1 <= x < 2^63, sparse >= rows[t]; other
// schemas the same per column transform, identity values finite below 1e30, list ids in 1..rows-1,
// lists no longer than their max length), naming the column and the first bad row. A cache is never silently reused with other hashing parameters.
// Opening a cache that is not a regular file (a FIFO, a device) fails at once, never blocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>
#include <string>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

inline constexpr char kCacheMagic[8] = {'S', 'S', 'Y', 'N', 'C', 'D', 'A', 'T'};
inline constexpr uint32_t kCacheVersion = 3;       // written; versions 1 to 3 are read
inline constexpr uint32_t kCacheFirstBlockRows = 1024;  // format 2's block schedule (written)
inline constexpr uint32_t kCacheMaxBlockRows = uint32_t{1} << 20;

// Writes `data` to `path` atomically (AtomicFileWriter: unique temporary, fsync, rename), after
// validating it against `schema` (its widths) and `hashing` (one table per table of the schema;
// values as the open checks them). `numeric_missing` is stored for statistics.
void write_cache(const std::string& path, const DataView& data, const HashingConfig& hashing,
                 std::span<const uint64_t> numeric_missing = {},
                 const FeatureSchema& schema = FeatureSchema::criteo());

// Writes a cache from rows that arrive in pieces (convert of files larger than memory), each row
// written once: rows go straight to their place in the row blocks of an AtomicFileWriter's
// temporary beside `path` (removed if the writer is destroyed before commit, so a failure leaves
// nothing behind), and commit() writes the header and renames the file over `path`. Memory: none
// beyond the caller's rows; disk: the cache once.
class CacheWriter {
 public:
  // Validates `schema` and `hashing` (one table per table of the schema); creates the temporary.
  // Errors name `path`.
  CacheWriter(std::string path, const HashingConfig& hashing,
              const FeatureSchema& schema = FeatureSchema::criteo());
  ~CacheWriter();
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Appends rows (validated like write_cache).
  void append(const DataView& rows);
  uint64_t rows() const { return rows_; }
  // Writes the header and commits the cache (Error when no row was appended).
  void commit(std::span<const uint64_t> numeric_missing);

 private:
  std::string path_;
  HashingConfig hashing_;
  FeatureSchema schema_;
  uint64_t rows_ = 0;
  struct State;
  std::unique_ptr<State> state_;
};

// True when the file starts with kCacheMagic (false for shorter or unreadable files).
bool has_cache_magic(const std::string& path);

// The hashing a cache was written with (header checked: version, header checksum), or nullopt
// when `path` is not a cache. Lets a command default to the cache's own hashing.
std::optional<HashingConfig> read_cache_hashing(const std::string& path);
// The schema a cache stores (Criteo's for formats 1 and 2; header and section checked), or
// nullopt when `path` is not a cache.
std::optional<FeatureSchema> read_cache_schema(const std::string& path);

class MappedCache {
 public:
  // mmaps and validates the cache (see above); `expected` must equal the stored HashingConfig.
  static MappedCache open(const std::string& path, const HashingConfig& expected);

  MappedCache() = default;
  MappedCache(MappedCache&& other) noexcept;
  MappedCache& operator=(MappedCache&& other) noexcept;
  MappedCache(const MappedCache&) = delete;
  MappedCache& operator=(const MappedCache&) = delete;
  ~MappedCache();

  DataView view() const { return view_; }
  size_t rows() const { return view_.rows; }
  const HashingConfig& hashing() const { return hashing_; }
  const FeatureSchema& schema() const { return schema_; }
  // Missing values of the first 13 numeric columns (0 beyond the schema's numeric columns).
  const std::vector<uint64_t>& numeric_missing() const { return numeric_missing_; }

 private:
  struct Mapping;
  std::unique_ptr<Mapping> mapping_;  // the memory view_ points into
  DataView view_{};
  HashingConfig hashing_{};
  FeatureSchema schema_ = FeatureSchema::criteo();
  std::vector<uint64_t> numeric_missing_;
};

}  // namespace shadowsync
