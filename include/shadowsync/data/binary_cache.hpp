// Binary cache of parsed, transformed and hashed examples: written once by `shadowsync convert`,
// then mmapped and read in place (no parse) by MappedCache.
//
// File layout (little-endian, format version kCacheVersion):
//   header (320 bytes): magic "SSYNCDAT", u32 version, u32 header bytes, u64 rows,
//     u32 rows[26] and u64 salt (the full HashingConfig), u64 numeric_missing[13],
//     u64 checksum64 of each column (labels, numeric, sparse), u64 checksum64 of the header
//     bytes before it; zero padding.
//   labels float[rows], numeric float[rows*13], sparse u32[rows*26], each starting at a multiple
//   of 64 bytes (zero padding between), nothing after the last column.
// Opening validates, in this order, and throws Error naming the file and the cause: not a
// regular readable file; wrong magic; other version; truncated or oversized; corrupted header;
// hashing differs from the expected one; a column checksum mismatch; a numeric_missing count larger
// than the row count; values the parser cannot produce (validate_view: labels not 0/1, numeric
// values other than 0 or log1p(x) for 1 <= x < 2^63, sparse >= rows[t]), naming the column and
// the first bad row. A cache is never silently reused with other hashing parameters.
// Opening a cache that is not a regular file (a FIFO, a device) fails at once, never blocks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

inline constexpr char kCacheMagic[8] = {'S', 'S', 'Y', 'N', 'C', 'D', 'A', 'T'};
inline constexpr uint32_t kCacheVersion = 1;

// Writes `data` to `path` atomically (AtomicFileWriter: unique temporary, fsync, rename), after
// validating it against `hashing` (see validate_view). `numeric_missing` is stored for statistics.
void write_cache(const std::string& path, const DataView& data, const HashingConfig& hashing,
                 const std::array<uint64_t, kNumNumeric>& numeric_missing = {});

// Writes a cache from rows that arrive in pieces (convert of files larger than memory): each
// column goes to an unlinked temporary file beside `path` (so a failure leaves nothing behind),
// and commit() writes the header and copies the columns into `path` atomically. Memory: one
// 4 MiB copy buffer; disk: the cache size twice while committing.
class CacheWriter {
 public:
  // Validates `hashing`; creates the column files. Errors name `path`.
  CacheWriter(std::string path, const HashingConfig& hashing);
  ~CacheWriter();
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;

  // Appends rows (validated like write_cache).
  void append(const DataView& rows);
  uint64_t rows() const { return rows_; }
  // Writes the cache (Error when no row was appended).
  void commit(const std::array<uint64_t, kNumNumeric>& numeric_missing);

 private:
  std::string path_;
  HashingConfig hashing_;
  int column_fd_[3] = {-1, -1, -1};
  uint64_t rows_ = 0;
  struct Sums;
  std::unique_ptr<Sums> sums_;
};

// True when the file starts with kCacheMagic (false for shorter or unreadable files).
bool has_cache_magic(const std::string& path);

// The hashing a cache was written with (header checked: version, header checksum), or nullopt
// when `path` is not a cache. Lets a command default to the cache's own hashing.
std::optional<HashingConfig> read_cache_hashing(const std::string& path);

class MappedFile;  // core/mapped_file.hpp

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
  const std::array<uint64_t, kNumNumeric>& numeric_missing() const { return numeric_missing_; }

 private:
  std::unique_ptr<MappedFile> file_;  // the mapping view_ points into (core's one mmap owner)
  DataView view_{};
  HashingConfig hashing_{};
  std::array<uint64_t, kNumNumeric> numeric_missing_{};
};

}  // namespace shadowsync
