// Binary cache: CacheWriter (format 2: rows written once, in place, into row blocks of an
// AtomicFileWriter's temporary), write_cache (one CacheWriter append), and MappedCache::open
// (format 2: each column's block pieces mapped side by side into one reserved address range;
// format 1: one MappedFile), then the checks listed in binary_cache.hpp.
#include "shadowsync/data/binary_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

// Format 1 (read only) has HeaderV2's fields up to column_checksum, then its header checksum
// (checksum64 of the bytes before it) at this offset, where format 2 has the block schedule.
constexpr size_t kHeaderChecksumOffsetV1 = 264;

// Format 2 (see binary_cache.hpp): the format-1 fields, then the block schedule.
constexpr size_t kHeaderBytesV2 = 4096;
constexpr size_t kPieceAlign = 4096;  // every block piece starts and ends at a multiple of this
constexpr uint64_t kMaxCacheRows = uint64_t{1} << 40;
struct HeaderV2 {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t rows;
  uint32_t table_rows[kNumSparse];
  uint64_t salt;
  uint64_t numeric_missing[kNumNumeric];
  uint64_t column_checksum[3];  // labels, numeric, sparse: of each whole column, in row order
  uint32_t first_block_rows;
  uint32_t max_block_rows;
  uint64_t header_checksum;     // checksum64 of the bytes before this field
};
static_assert(offsetof(HeaderV2, column_checksum) == 240);
static_assert(offsetof(HeaderV2, first_block_rows) == kHeaderChecksumOffsetV1);
static_assert(offsetof(HeaderV2, header_checksum) == 272);
static_assert(sizeof(HeaderV2) <= kHeaderBytesV2);

constexpr size_t kColumnRowBytes[3] = {sizeof(float), kNumNumeric * sizeof(float),
                                 kNumSparse * sizeof(uint32_t)};
constexpr size_t kBlockRowBytes = kColumnRowBytes[0] + kColumnRowBytes[1] + kColumnRowBytes[2];  // 160

size_t align_piece(size_t n) { return (n + kPieceAlign - 1) / kPieceAlign * kPieceAlign; }

// The block schedule of format 2: block k holds min(first << k, max) rows; its column pieces
// sit at offsets 0, 4 x capacity and 56 x capacity of the block, which starts right after the
// previous block (header, then 160 bytes per row of capacity of every earlier block).
struct BlockCursor {
  uint64_t first_block_rows, max_block_rows;
  uint64_t first_row = 0;  // of the current block
  uint64_t capacity;       // rows of the current block
  uint64_t offset = kHeaderBytesV2;  // file offset of the current block
  BlockCursor(uint64_t first, uint64_t max)
      : first_block_rows(first), max_block_rows(max), capacity(first) {}
  void next() {
    first_row += capacity;
    offset += kBlockRowBytes * capacity;
    capacity = std::min(capacity * 2, max_block_rows);
  }
  size_t piece_offset(int column) const {
    return column == 0 ? 0 : column == 1 ? kColumnRowBytes[0] * capacity
                                         : (kColumnRowBytes[0] + kColumnRowBytes[1]) * capacity;
  }
};

// True for a block size format 2 accepts: a power of two, a multiple of 1024 rows (so every piece
// is a multiple of kPieceAlign), at most 2^24.
bool valid_block_rows(uint64_t n) {
  return n >= 1024 && n <= (uint64_t{1} << 24) && (n & (n - 1)) == 0;
}

constexpr const char* kColumnNames[3] = {"labels", "dense", "sparse"};

// Rows checksummed and value-checked together when a cache is opened (about 10 MB of the file).
constexpr size_t kCheckChunkRows = size_t{1} << 16;

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
  CacheWriter writer(path, hashing);
  writer.append(data);
  writer.commit(numeric_missing);
}

struct CacheWriter::State {
  explicit State(const std::string& path)
      : out(path), cursor(kCacheFirstBlockRows, kCacheMaxBlockRows) {}
  AtomicFileWriter out;
  BlockCursor cursor;
  Checksum64 sums[3];
};

CacheWriter::CacheWriter(std::string path, const HashingConfig& hashing)
    : path_(std::move(path)), hashing_(hashing) {
  validate_hashing(hashing_, path_ + ": hashing config");
  state_ = std::make_unique<State>(path_);
}

CacheWriter::~CacheWriter() = default;  // an uncommitted temporary is removed by its writer

void CacheWriter::append(const DataView& rows) {
  if (rows.rows == 0) return;
  validate_view(rows, hashing_, path_ + ": data to cache");
  if (rows.rows > kMaxCacheRows - rows_) throw Error(path_ + ": too many rows for a cache");
  const char* columns[3] = {reinterpret_cast<const char*>(rows.labels),
                            reinterpret_cast<const char*>(rows.numeric),
                            reinterpret_cast<const char*>(rows.sparse)};
  for (int c = 0; c < 3; ++c) state_->sums[c].update(columns[c], rows.rows * kColumnRowBytes[c]);
  BlockCursor& block = state_->cursor;
  for (size_t done = 0; done < rows.rows;) {
    if (rows_ == block.first_row + block.capacity) block.next();
    const uint64_t within = rows_ - block.first_row;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(rows.rows - done, block.capacity - within));
    for (int c = 0; c < 3; ++c) {
      state_->out.write_at(block.offset + block.piece_offset(c) + within * kColumnRowBytes[c],
                           columns[c] + done * kColumnRowBytes[c], n * kColumnRowBytes[c]);
    }
    done += n;
    rows_ += n;
  }
}

void CacheWriter::commit(const std::array<uint64_t, kNumNumeric>& numeric_missing) {
  if (rows_ == 0) throw Error(path_ + ": no rows to write to a cache");
  for (int j = 0; j < kNumNumeric; ++j) {
    if (numeric_missing[j] > rows_) {
      throw Error(fmt::format("{}: dense_missing of I{} is {}, more than the {} rows to cache",
                              path_, j + 1, numeric_missing[j], rows_));
    }
  }
  HeaderV2 h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.header_bytes = kHeaderBytesV2;
  h.rows = rows_;
  for (int t = 0; t < kNumSparse; ++t) h.table_rows[t] = hashing_.rows[t];
  h.salt = hashing_.salt;
  for (int j = 0; j < kNumNumeric; ++j) h.numeric_missing[j] = numeric_missing[j];
  for (int c = 0; c < 3; ++c) h.column_checksum[c] = state_->sums[c].digest();
  h.first_block_rows = static_cast<uint32_t>(state_->cursor.first_block_rows);
  h.max_block_rows = static_cast<uint32_t>(state_->cursor.max_block_rows);
  h.header_checksum = checksum64(&h, offsetof(HeaderV2, header_checksum));
  std::vector<char> header_block(kHeaderBytesV2, 0);
  std::memcpy(header_block.data(), &h, sizeof h);
  state_->out.write_at(0, header_block.data(), header_block.size());
  // The file ends with the last block's sparse piece, padded to kPieceAlign (unwritten bytes of
  // the last block's other pieces stay holes that read as zeros).
  const BlockCursor& block = state_->cursor;
  const uint64_t last_rows = rows_ - block.first_row;
  const size_t sparse_at = block.offset + block.piece_offset(2) + last_rows * kColumnRowBytes[2];
  const size_t pad = align_piece(last_rows * kColumnRowBytes[2]) - last_rows * kColumnRowBytes[2];
  if (pad > 0) {
    const std::vector<char> zeros(pad, 0);
    state_->out.write_at(sparse_at, zeros.data(), pad);
  }
  state_->out.commit();
}

bool has_cache_magic(const std::string& path) {
  // stat, not open: opening a FIFO (even without blocking) would release a writer blocked in
  // its open, which then loses its data when this closes it.
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
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

namespace {

std::string version_error(uint32_t version) {
  return fmt::format("cache format version {}, this build reads versions 1 and {}", version,
                     kCacheVersion);
}

// The first bytes of a cache file (up to the larger header), with its size.
struct HeadBytes {
  char bytes[sizeof(HeaderV2)] = {};
  size_t got = 0;
  size_t size = 0;
  uint32_t version() const {
    uint32_t v = 0;
    if (got >= 12) std::memcpy(&v, bytes + 8, 4);
    return v;
  }
};

HeadBytes read_head(int fd, size_t size) {
  HeadBytes head;
  head.size = size;
  const size_t want = std::min(size, sizeof head.bytes);
  while (head.got < want) {
    const ssize_t n = ::pread(fd, head.bytes + head.got, want - head.got,
                              static_cast<off_t>(head.got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.got += static_cast<size_t>(n);
  }
  return head;
}

// Checks magic, size against the header, version and header checksum of either format (in
// that order); returns the header as HeaderV2 (for format 1, only the shared fields are set).
HeaderV2 checked_header(const std::string& path, const HeadBytes& head) {
  if (head.got < sizeof kCacheMagic || std::memcmp(head.bytes, kCacheMagic, sizeof kCacheMagic) != 0) {
    fail(path, "not a shadowsync binary cache (wrong magic, expected \"SSYNCDAT\")");
  }
  const uint32_t version = head.version();
  const size_t header_bytes = version == 2 ? kHeaderBytesV2 : kHeaderBytes;
  if (head.size < header_bytes) {
    fail(path, fmt::format("truncated cache: {} bytes, shorter than the {}-byte header", head.size,
                           header_bytes));
  }
  if (version != 1 && version != 2) fail(path, version_error(version));
  HeaderV2 h;
  std::memcpy(&h, head.bytes, sizeof h);
  if (version == 1) {
    uint64_t stored = 0;
    std::memcpy(&stored, head.bytes + kHeaderChecksumOffsetV1, sizeof stored);
    if (h.header_bytes != kHeaderBytes || checksum64(head.bytes, kHeaderChecksumOffsetV1) != stored) {
      fail(path, "corrupted cache header (checksum mismatch)");
    }
    h.first_block_rows = h.max_block_rows = 0;
    return h;
  }
  if (h.header_bytes != kHeaderBytesV2 ||
      checksum64(&h, offsetof(HeaderV2, header_checksum)) != h.header_checksum) {
    fail(path, "corrupted cache header (checksum mismatch)");
  }
  return h;
}

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

}  // namespace

std::optional<HashingConfig> read_cache_hashing(const std::string& path) {
  if (!has_cache_magic(path)) return std::nullopt;
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  const FdCloser closer{fd};
  const HeaderV2 h = checked_header(path, read_head(fd, size));
  HashingConfig stored;
  for (int t = 0; t < kNumSparse; ++t) stored.rows[t] = h.table_rows[t];
  stored.salt = h.salt;
  validate_hashing(stored, path + ": stored hashing config");
  return stored;
}

// What a MappedCache's view points into: a format-1 file mapped whole, or the three address
// ranges into which format 2's block pieces are mapped (or read, where pages are larger than
// the pieces' alignment).
struct MappedCache::Mapping {
  std::unique_ptr<MappedFile> file;
  void* column_base[3] = {nullptr, nullptr, nullptr};
  size_t column_bytes[3] = {0, 0, 0};
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    for (int c = 0; c < 3; ++c) {
      if (column_base[c] != nullptr) ::munmap(column_base[c], column_bytes[c]);
    }
  }
};

namespace {

// The stored hashing must be the expected one (checked before any column is mapped).
void check_expected_hashing(const std::string& path, const HeaderV2& h,
                            const HashingConfig& expected) {
  HashingConfig stored;
  for (int t = 0; t < kNumSparse; ++t) stored.rows[t] = h.table_rows[t];
  stored.salt = h.salt;
  if (stored != expected) {
    fail(path, "cache was hashed with " + describe_hashing(stored.rows.data(), stored.salt) +
                   ", but " + describe_hashing(expected.rows.data(), expected.salt) +
                   " is expected (convert the TSV again with these settings)");
  }
  validate_hashing(stored, path + ": stored hashing config");
}

// The checks shared by both formats once the columns are mapped: column checksums,
// numeric_missing, values (validate_view). `view` points into the columns. One pass over the
// file: rows are checksummed and value-checked a chunk at a time, so a chunk is checked while
// its pages are still resident (a cache larger than the memory allowed is read from disk once,
// not once for the checksums and again for the values). A chunk with a bad value is only noted;
// a checksum mismatch is reported first, then validate_view of the whole view names the first bad
// row in the cache's own numbering.
void check_contents(const std::string& path, const HeaderV2& h, const DataView& view,
                    const HashingConfig& hashing) {
  const char* columns[3] = {reinterpret_cast<const char*>(view.labels),
                            reinterpret_cast<const char*>(view.numeric),
                            reinterpret_cast<const char*>(view.sparse)};
  Checksum64 sums[3];
  bool bad_value = false;
  for (size_t begin = 0; begin < view.rows; begin += kCheckChunkRows) {
    const size_t end = std::min<size_t>(view.rows, begin + kCheckChunkRows);
    const auto sum = [&](int c) {
      sums[c].update(columns[c] + begin * kColumnRowBytes[c], (end - begin) * kColumnRowBytes[c]);
    };
    tbb::parallel_invoke([&] { sum(0); }, [&] { sum(1); }, [&] { sum(2); });
    if (!bad_value) {
      try {
        validate_view(view.slice(begin, end), hashing, path);
      } catch (const Error&) {
        bad_value = true;  // reported below, after the checksums, with the row's cache number
      }
    }
  }
  for (int c = 0; c < 3; ++c) {
    if (sums[c].digest() != h.column_checksum[c]) {
      fail(path, fmt::format("checksum mismatch in column '{}': the cache is corrupted",
                             kColumnNames[c]));
    }
  }
  for (int j = 0; j < kNumNumeric; ++j) {
    if (h.numeric_missing[j] > h.rows) {
      fail(path, fmt::format("header: dense_missing of I{} is {}, more than the {} rows: the cache "
                             "is corrupted",
                             j + 1, h.numeric_missing[j], h.rows));
    }
  }
  if (bad_value) validate_view(view, hashing, path);
}

}  // namespace

MappedCache MappedCache::open(const std::string& path, const HashingConfig& expected) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  const FdCloser closer{fd};
  const HeaderV2 h = checked_header(path, read_head(fd, size));
  auto mapping = std::make_unique<Mapping>();
  DataView view{};
  if (h.version == 1) {
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
    check_expected_hashing(path, h, expected);
    mapping->file = std::make_unique<MappedFile>(path);
    if (mapping->file->size() != size) fail(path, "the file changed while it was opened");
    const char* bytes = mapping->file->data();
    view = DataView{static_cast<size_t>(h.rows),
                    reinterpret_cast<const float*>(bytes + layout.offset[0]),
                    reinterpret_cast<const float*>(bytes + layout.offset[1]),
                    reinterpret_cast<const uint32_t*>(bytes + layout.offset[2])};
  } else {
    if (!valid_block_rows(h.first_block_rows) || !valid_block_rows(h.max_block_rows) ||
        h.first_block_rows > h.max_block_rows) {
      fail(path, fmt::format("corrupted cache header (impossible block sizes {} and {})",
                             h.first_block_rows, h.max_block_rows));
    }
    // Every full block takes 160 bytes a row of the file, so a row count the size cannot hold is
    // refused before walking the blocks.
    if (h.rows == 0 || h.rows > kMaxCacheRows) {
      fail(path, fmt::format("corrupted cache header (impossible row count {})", h.rows));
    }
    std::vector<BlockCursor> blocks{BlockCursor(h.first_block_rows, h.max_block_rows)};
    const bool walkable = h.rows <= size / kBlockRowBytes + h.max_block_rows;
    BlockCursor end = blocks.back();
    if (walkable) {
      while (blocks.back().first_row + blocks.back().capacity < h.rows) {
        BlockCursor next = blocks.back();
        next.next();
        blocks.push_back(next);
      }
      end = blocks.back();
    }
    const uint64_t last_rows = h.rows - end.first_row;
    const uint64_t total =
        walkable ? end.offset + end.piece_offset(2) + align_piece(last_rows * kColumnRowBytes[2])
                 : std::numeric_limits<uint64_t>::max();
    if (size < total) {
      fail(path, walkable ? fmt::format("truncated cache: {} bytes, {} rows need {} bytes", size,
                                        h.rows, total)
                          : fmt::format("truncated cache: {} bytes cannot hold {} rows", size,
                                        h.rows));
    }
    if (size > total) {
      fail(path, fmt::format("cache has {} unexpected bytes after its last column", size - total));
    }
    check_expected_hashing(path, h, expected);
    const long page = ::sysconf(_SC_PAGESIZE);
    const bool map_pieces = page > 0 && kPieceAlign % static_cast<size_t>(page) == 0;
    for (int c = 0; c < 3; ++c) {
      const size_t bytes = align_piece(h.rows * kColumnRowBytes[c]);
      void* base = ::mmap(nullptr, bytes, map_pieces ? PROT_NONE : PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) {
        fail(path, fmt::format("cannot reserve {} bytes of address space for column '{}': {}",
                               bytes, kColumnNames[c], std::strerror(errno)));
      }
      mapping->column_base[c] = base;
      mapping->column_bytes[c] = bytes;
      for (const BlockCursor& block : blocks) {
        const uint64_t rows_here = std::min(block.capacity, h.rows - block.first_row);
        char* at = static_cast<char*>(base) + block.first_row * kColumnRowBytes[c];
        const size_t piece = align_piece(rows_here * kColumnRowBytes[c]);
        const off_t from = static_cast<off_t>(block.offset + block.piece_offset(c));
        if (map_pieces) {
          if (::mmap(at, piece, PROT_READ, MAP_SHARED | MAP_FIXED, fd, from) == MAP_FAILED) {
            fail(path, fmt::format("cannot map column '{}' of the cache ({} blocks): {}",
                                   kColumnNames[c], blocks.size(), std::strerror(errno)));
          }
        } else {
          for (size_t done = 0; done < piece;) {
            const ssize_t n = ::pread(fd, at + done, piece - done, from + static_cast<off_t>(done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail(path, "cannot read the cache: " + std::string(n < 0 ? std::strerror(errno) : "short file"));
            done += static_cast<size_t>(n);
          }
        }
      }
      if (!map_pieces) ::mprotect(base, bytes, PROT_READ);
    }
    view = DataView{static_cast<size_t>(h.rows), static_cast<const float*>(mapping->column_base[0]),
                    static_cast<const float*>(mapping->column_base[1]),
                    static_cast<const uint32_t*>(mapping->column_base[2])};
  }
  check_contents(path, h, view, expected);
  MappedCache cache;
  cache.hashing_ = expected;
  cache.view_ = view;
  for (int j = 0; j < kNumNumeric; ++j) cache.numeric_missing_[j] = h.numeric_missing[j];
  cache.mapping_ = std::move(mapping);
  return cache;
}

MappedCache::MappedCache(MappedCache&& other) noexcept
    : mapping_(std::move(other.mapping_)),
      view_(std::exchange(other.view_, DataView{})),
      hashing_(other.hashing_),
      numeric_missing_(other.numeric_missing_) {}

MappedCache& MappedCache::operator=(MappedCache&& other) noexcept {
  if (this != &other) {
    mapping_ = std::move(other.mapping_);
    view_ = std::exchange(other.view_, DataView{});
    hashing_ = other.hashing_;
    numeric_missing_ = other.numeric_missing_;
  }
  return *this;
}

MappedCache::~MappedCache() = default;

}  // namespace shadowsync
