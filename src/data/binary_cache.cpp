// Binary cache: write_cache (validate, write header + 64-byte-aligned columns through an
// AtomicFileWriter) and MappedCache::open (a MappedFile, then the checks listed in
// binary_cache.hpp).
#include "shadowsync/data/binary_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <tbb/parallel_invoke.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "core/mapped_file.hpp"
#include "core/checksum.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/feature_transform.hpp"
#include "shadowsync/core/file_io.hpp"

namespace shadowsync {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the binary cache format is little-endian");

constexpr size_t kHeaderBytes = 320;
constexpr size_t kAlign = 64;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t rows;
  uint32_t table_rows[kNumSparse];
  uint64_t salt;
  uint64_t numeric_missing[kNumNumeric];
  uint64_t column_checksum[3];  // labels, numeric, sparse
  uint64_t header_checksum;     // checksum64 of the bytes before this field
};
static_assert(sizeof(Header) <= kHeaderBytes);
static_assert(offsetof(Header, header_checksum) == 264);

constexpr const char* kColumnNames[3] = {"labels", "dense", "sparse"};

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

struct Layout {
  size_t offset[3];
  size_t bytes[3];
  size_t total;
};

// Column offsets for `rows` rows; false if the sizes overflow size_t.
bool compute_layout(uint64_t rows, Layout* layout) {
  constexpr uint64_t kRowBytes = (1 + kNumNumeric + kNumSparse) * 4;
  if (rows > (std::numeric_limits<size_t>::max() - 4 * kAlign - kHeaderBytes) / kRowBytes) {
    return false;
  }
  const size_t per_row[3] = {sizeof(float), kNumNumeric * sizeof(float),
                             kNumSparse * sizeof(uint32_t)};
  size_t at = kHeaderBytes;
  for (int c = 0; c < 3; ++c) {
    layout->offset[c] = at;
    layout->bytes[c] = static_cast<size_t>(rows) * per_row[c];
    at = c < 2 ? align_up(at + layout->bytes[c]) : at + layout->bytes[c];
  }
  layout->total = at;
  return true;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

uint64_t header_checksum(const Header& h) {
  return checksum64(&h, offsetof(Header, header_checksum));
}

std::string describe_hashing(const uint32_t* rows, uint64_t salt) {
  bool uniform = true;
  for (int t = 1; t < kNumSparse; ++t) uniform = uniform && rows[t] == rows[0];
  if (uniform) return fmt::format("rows per table {}, salt {}", rows[0], salt);
  std::string out = "rows per table [";
  for (int t = 0; t < kNumSparse; ++t) out += fmt::format("{}{}", t ? "," : "", rows[t]);
  return out + fmt::format("], salt {}", salt);
}

}  // namespace

void write_cache(const std::string& path, const DataView& data, const HashingConfig& hashing,
                 const std::array<uint64_t, kNumNumeric>& numeric_missing) {
  validate_hashing(hashing, path + ": hashing config");
  validate_view(data, hashing, path + ": data to cache");
  if (data.rows == 0) throw Error(path + ": no rows to write to a cache");
  for (int j = 0; j < kNumNumeric; ++j) {
    if (numeric_missing[j] > data.rows) {
      throw Error(fmt::format("{}: dense_missing of I{} is {}, more than the {} rows to cache", path,
                              j + 1, numeric_missing[j], data.rows));
    }
  }
  Layout layout;
  if (!compute_layout(data.rows, &layout)) throw Error(path + ": too many rows for a cache");

  Header h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.header_bytes = kHeaderBytes;
  h.rows = data.rows;
  for (int t = 0; t < kNumSparse; ++t) h.table_rows[t] = hashing.rows[t];
  h.salt = hashing.salt;
  for (int j = 0; j < kNumNumeric; ++j) h.numeric_missing[j] = numeric_missing[j];
  const void* columns[3] = {data.labels, data.numeric, data.sparse};
  tbb::parallel_invoke(
      [&] { h.column_checksum[0] = checksum64(columns[0], layout.bytes[0]); },
      [&] { h.column_checksum[1] = checksum64(columns[1], layout.bytes[1]); },
      [&] { h.column_checksum[2] = checksum64(columns[2], layout.bytes[2]); });
  h.header_checksum = header_checksum(h);

  AtomicFileWriter out(path);
  char header_block[kHeaderBytes] = {};
  std::memcpy(header_block, &h, sizeof h);
  out.write(header_block, kHeaderBytes);
  const char zeros[kAlign] = {};
  size_t at = kHeaderBytes;
  for (int c = 0; c < 3; ++c) {
    out.write(zeros, layout.offset[c] - at);
    out.write(columns[c], layout.bytes[c]);
    at = layout.offset[c] + layout.bytes[c];
  }
  out.commit();
}

struct CacheWriter::Sums {
  Checksum64 column[3];
};

CacheWriter::CacheWriter(std::string path, const HashingConfig& hashing)
    : path_(std::move(path)), hashing_(hashing), sums_(std::make_unique<Sums>()) {
  validate_hashing(hashing_, path_ + ": hashing config");
  for (int c = 0; c < 3; ++c) {
    std::string temp = path_ + ".column-XXXXXX";
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
      const int err = errno;
      for (int k = 0; k < c; ++k) ::close(column_fd_[k]);
      throw Error(fmt::format("{}: cannot create a temporary file beside it: {}", path_,
                              std::strerror(err)));
    }
    ::unlink(temp.c_str());  // nothing to clean up later, whatever happens
    column_fd_[c] = fd;
  }
}

CacheWriter::~CacheWriter() {
  for (const int fd : column_fd_) {
    if (fd >= 0) ::close(fd);
  }
}

namespace {
void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw Error(fmt::format("{}: cannot write a temporary column: {}", path,
                              n < 0 ? std::strerror(errno) : "no progress"));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}
}  // namespace

void CacheWriter::append(const DataView& rows) {
  if (rows.rows == 0) return;
  validate_view(rows, hashing_, path_ + ": data to cache");
  const void* columns[3] = {rows.labels, rows.numeric, rows.sparse};
  const size_t bytes[3] = {rows.rows * sizeof(float), rows.rows * kNumNumeric * sizeof(float),
                           rows.rows * kNumSparse * sizeof(uint32_t)};
  for (int c = 0; c < 3; ++c) {
    sums_->column[c].update(columns[c], bytes[c]);
    write_all(column_fd_[c], columns[c], bytes[c], path_);
  }
  rows_ += rows.rows;
}

void CacheWriter::commit(const std::array<uint64_t, kNumNumeric>& numeric_missing) {
  if (rows_ == 0) throw Error(path_ + ": no rows to write to a cache");
  for (int j = 0; j < kNumNumeric; ++j) {
    if (numeric_missing[j] > rows_) {
      throw Error(fmt::format("{}: dense_missing of I{} is {}, more than the {} rows to cache",
                              path_, j + 1, numeric_missing[j], rows_));
    }
  }
  Layout layout;
  if (!compute_layout(rows_, &layout)) throw Error(path_ + ": too many rows for a cache");
  Header h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.header_bytes = kHeaderBytes;
  h.rows = rows_;
  for (int t = 0; t < kNumSparse; ++t) h.table_rows[t] = hashing_.rows[t];
  h.salt = hashing_.salt;
  for (int j = 0; j < kNumNumeric; ++j) h.numeric_missing[j] = numeric_missing[j];
  for (int c = 0; c < 3; ++c) h.column_checksum[c] = sums_->column[c].digest();
  h.header_checksum = header_checksum(h);

  AtomicFileWriter out(path_);
  char header_block[kHeaderBytes] = {};
  std::memcpy(header_block, &h, sizeof h);
  out.write(header_block, kHeaderBytes);
  const char zeros[kAlign] = {};
  const size_t kCopy = size_t{4} << 20;
  const std::unique_ptr<char[]> buffer(new char[kCopy]);
  size_t at = kHeaderBytes;
  for (int c = 0; c < 3; ++c) {
    out.write(zeros, layout.offset[c] - at);
    for (size_t done = 0; done < layout.bytes[c];) {
      const ssize_t n = ::pread(column_fd_[c], buffer.get(),
                                std::min(kCopy, layout.bytes[c] - done), static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        throw Error(fmt::format("{}: cannot read back a temporary column: {}", path_,
                                n < 0 ? std::strerror(errno) : "short file"));
      }
      out.write(buffer.get(), static_cast<size_t>(n));
      done += static_cast<size_t>(n);
    }
    at = layout.offset[c] + layout.bytes[c];
  }
  out.commit();
}

bool has_cache_magic(const std::string& path) {
  int fd = -1;
  try {
    fd = open_regular_file(path);
  } catch (const Error&) {
    return false;  // not a readable regular file: the reader that opens it says why
  }
  char magic[sizeof kCacheMagic];
  const ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof magic) &&
         std::memcmp(magic, kCacheMagic, sizeof magic) == 0;
}

std::optional<HashingConfig> read_cache_hashing(const std::string& path) {
  if (!has_cache_magic(path)) return std::nullopt;
  Header h{};
  const int fd = open_regular_file(path);
  const ssize_t n = ::pread(fd, &h, sizeof h, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof h)) {
    fail(path, fmt::format("truncated cache: shorter than the {}-byte header", kHeaderBytes));
  }
  if (h.version != kCacheVersion) {
    fail(path, fmt::format("cache format version {}, this build reads version {}", h.version, kCacheVersion));
  }
  if (h.header_bytes != kHeaderBytes || header_checksum(h) != h.header_checksum) {
    fail(path, "corrupted cache header (checksum mismatch)");
  }
  HashingConfig stored;
  for (int t = 0; t < kNumSparse; ++t) stored.rows[t] = h.table_rows[t];
  stored.salt = h.salt;
  validate_hashing(stored, path + ": stored hashing config");
  return stored;
}

MappedCache MappedCache::open(const std::string& path, const HashingConfig& expected) {
  MappedFile file(path);
  const size_t size = file.size();
  const char* bytes = file.data();
  if (size < sizeof kCacheMagic || std::memcmp(bytes, kCacheMagic, sizeof kCacheMagic) != 0) {
    fail(path, "not a shadowsync binary cache (wrong magic, expected \"SSYNCDAT\")");
  }
  if (size < kHeaderBytes) {
    fail(path, fmt::format("truncated cache: {} bytes, shorter than the {}-byte header", size,
                     kHeaderBytes));
  }
  Header h;
  std::memcpy(&h, bytes, sizeof h);
  if (h.version != kCacheVersion) {
    fail(path, fmt::format("cache format version {}, this build reads version {}", h.version,
                     kCacheVersion));
  }
  if (h.header_bytes != kHeaderBytes || header_checksum(h) != h.header_checksum) {
    fail(path, "corrupted cache header (checksum mismatch)");
  }
  Layout layout;
  if (h.rows == 0 || !compute_layout(h.rows, &layout)) {
    fail(path, fmt::format("corrupted cache header (impossible row count {})", h.rows));
  }
  if (size < layout.total) {
    fail(path, fmt::format("truncated cache: {} bytes, {} rows need {} bytes", size, h.rows,
                     layout.total));
  }
  if (size > layout.total) {
    fail(path, fmt::format("cache has {} unexpected bytes after its last column",
                     size - layout.total));
  }
  HashingConfig stored;
  for (int t = 0; t < kNumSparse; ++t) stored.rows[t] = h.table_rows[t];
  stored.salt = h.salt;
  if (stored != expected) {
    fail(path, "cache was hashed with " + describe_hashing(stored.rows.data(), stored.salt) +
         ", but " + describe_hashing(expected.rows.data(), expected.salt) +
         " is expected (convert the TSV again with these settings)");
  }
  validate_hashing(stored, path + ": stored hashing config");
  uint64_t sums[3];
  tbb::parallel_invoke(
      [&] { sums[0] = checksum64(bytes + layout.offset[0], layout.bytes[0]); },
      [&] { sums[1] = checksum64(bytes + layout.offset[1], layout.bytes[1]); },
      [&] { sums[2] = checksum64(bytes + layout.offset[2], layout.bytes[2]); });
  for (int c = 0; c < 3; ++c) {
    if (sums[c] != h.column_checksum[c]) {
      fail(path, fmt::format("checksum mismatch in column '{}': the cache is corrupted",
                       kColumnNames[c]));
    }
  }
  MappedCache cache;
  cache.view_ = DataView{static_cast<size_t>(h.rows),
                         reinterpret_cast<const float*>(bytes + layout.offset[0]),
                         reinterpret_cast<const float*>(bytes + layout.offset[1]),
                         reinterpret_cast<const uint32_t*>(bytes + layout.offset[2])};
  for (int j = 0; j < kNumNumeric; ++j) {
    if (h.numeric_missing[j] > h.rows) {
      fail(path, fmt::format("header: dense_missing of I{} is {}, more than the {} rows: the cache "
                             "is corrupted",
                             j + 1, h.numeric_missing[j], h.rows));
    }
  }
  validate_view(cache.view_, stored, path);
  cache.hashing_ = stored;
  for (int j = 0; j < kNumNumeric; ++j) cache.numeric_missing_[j] = h.numeric_missing[j];
  cache.file_ = std::make_unique<MappedFile>(std::move(file));
  return cache;
}

MappedCache::MappedCache(MappedCache&& other) noexcept
    : file_(std::move(other.file_)),
      view_(std::exchange(other.view_, DataView{})),
      hashing_(other.hashing_),
      numeric_missing_(other.numeric_missing_) {}

MappedCache& MappedCache::operator=(MappedCache&& other) noexcept {
  if (this != &other) {
    file_ = std::move(other.file_);
    view_ = std::exchange(other.view_, DataView{});
    hashing_ = other.hashing_;
    numeric_missing_ = other.numeric_missing_;
  }
  return *this;
}

MappedCache::~MappedCache() = default;

}  // namespace shadowsync
