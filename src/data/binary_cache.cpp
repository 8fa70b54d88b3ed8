// Binary cache: write_cache (validate, write header + 64-byte-aligned columns to a temporary file,
// fsync, rename) and MappedCache::open (mmap, then the checks listed in binary_cache.hpp).
#include "shadowsync/binary_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <tbb/parallel_invoke.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "mapped_file.hpp"
#include "shadowsync/checksum.hpp"
#include "shadowsync/data_block.hpp"
#include "shadowsync/error.hpp"
#include "shadowsync/feature_transform.hpp"

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
  uint64_t dense_missing[kNumDense];
  uint64_t column_checksum[3];  // labels, dense, sparse
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
  constexpr uint64_t kRowBytes = (1 + kNumDense + kNumSparse) * 4;
  if (rows > (std::numeric_limits<size_t>::max() - 4 * kAlign - kHeaderBytes) / kRowBytes) {
    return false;
  }
  const size_t per_row[3] = {sizeof(float), kNumDense * sizeof(float),
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

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": write failed: " + std::strerror(errno));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace

void write_cache(const std::string& path, const DataView& data, const HashingConfig& hashing,
                 const std::array<uint64_t, kNumDense>& dense_missing) {
  validate_hashing(hashing, path + ": hashing config");
  validate_view(data, hashing, path + ": data to cache");
  if (data.rows == 0) throw Error(path + ": no rows to write to a cache");
  Layout layout;
  if (!compute_layout(data.rows, &layout)) throw Error(path + ": too many rows for a cache");

  Header h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.header_bytes = kHeaderBytes;
  h.rows = data.rows;
  for (int t = 0; t < kNumSparse; ++t) h.table_rows[t] = hashing.rows[t];
  h.salt = hashing.salt;
  for (int j = 0; j < kNumDense; ++j) h.dense_missing[j] = dense_missing[j];
  const void* columns[3] = {data.labels, data.dense, data.sparse};
  tbb::parallel_invoke(
      [&] { h.column_checksum[0] = checksum64(columns[0], layout.bytes[0]); },
      [&] { h.column_checksum[1] = checksum64(columns[1], layout.bytes[1]); },
      [&] { h.column_checksum[2] = checksum64(columns[2], layout.bytes[2]); });
  h.header_checksum = header_checksum(h);

  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(temp + ": cannot create: " + std::strerror(errno));
  try {
    char header_block[kHeaderBytes] = {};
    std::memcpy(header_block, &h, sizeof h);
    write_all(fd, header_block, kHeaderBytes, temp);
    const char zeros[kAlign] = {};
    size_t at = kHeaderBytes;
    for (int c = 0; c < 3; ++c) {
      write_all(fd, zeros, layout.offset[c] - at, temp);
      write_all(fd, columns[c], layout.bytes[c], temp);
      at = layout.offset[c] + layout.bytes[c];
    }
    if (::fsync(fd) != 0) throw Error(temp + ": fsync failed: " + std::strerror(errno));
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) throw Error(temp + ": close failed: " + std::strerror(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    throw Error(path + ": cannot rename " + temp + " onto it: " + std::strerror(err));
  }
}

bool has_cache_magic(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[sizeof kCacheMagic];
  const ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof magic) &&
         std::memcmp(magic, kCacheMagic, sizeof magic) == 0;
}

std::optional<HashingConfig> read_cache_hashing(const std::string& path) {
  if (!has_cache_magic(path)) return std::nullopt;
  Header h{};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  const ssize_t n = fd < 0 ? -1 : ::pread(fd, &h, sizeof h, 0);
  if (fd >= 0) ::close(fd);
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
  data::MappedFile file(path);
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
  validate_view(cache.view_, stored, path);
  cache.hashing_ = stored;
  for (int j = 0; j < kNumDense; ++j) cache.dense_missing_[j] = h.dense_missing[j];
  cache.map_bytes_ = size;
  cache.map_ = file.release();
  return cache;
}

MappedCache::MappedCache(MappedCache&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)),
      map_bytes_(std::exchange(other.map_bytes_, 0)),
      view_(std::exchange(other.view_, DataView{})),
      hashing_(other.hashing_),
      dense_missing_(other.dense_missing_) {}

MappedCache& MappedCache::operator=(MappedCache&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    map_ = std::exchange(other.map_, nullptr);
    map_bytes_ = std::exchange(other.map_bytes_, 0);
    view_ = std::exchange(other.view_, DataView{});
    hashing_ = other.hashing_;
    dense_missing_ = other.dense_missing_;
  }
  return *this;
}

MappedCache::~MappedCache() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

}  // namespace shadowsync
