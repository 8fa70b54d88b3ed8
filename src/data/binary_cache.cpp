// Binary cache: CacheWriter (format 3: rows written once, in place, into row blocks of an
// AtomicFileWriter's temporary; the schema in the header's section), write_cache (one CacheWriter
// append), and MappedCache::open (formats 2 and 3: each column's block pieces mapped side by side
// into one reserved address range; format 1: one MappedFile), then the checks listed in
// binary_cache.hpp.
#include "shadowsync/data/binary_cache.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <tbb/parallel_invoke.h>

#include <bit>
#include <cerrno>
#include <cmath>
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
#include "shadowsync/core/untrusted_json.hpp"

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

// Format 3: HeaderV2's fields (table_rows and numeric_missing hold the first 26 / 13 entries, the
// full lists are in the section), then this extension at byte 280, then the section at byte
// kSectionOffset: u32 table_rows[tables], u64 numeric_missing[numeric] (at a multiple of 8),
// the schema's JSON text (schema_bytes). header_bytes = the section's end rounded up to 4096.
struct HeaderExt {
  uint32_t numeric_width;
  uint32_t sparse_width;
  uint32_t multi_hot;
  uint32_t tables;
  uint64_t bag_ids;             // ids in the multi-hot section
  uint64_t bag_checksum[2];     // of the list lengths column and of the ids section
  uint32_t schema_bytes;
  uint32_t section_bytes;
  uint64_t section_checksum;    // checksum64 of the section
  uint64_t ext_checksum;        // checksum64 of this extension's bytes before it
};
constexpr size_t kExtOffset = sizeof(HeaderV2);
static_assert(kExtOffset == 280);
constexpr size_t kSectionOffset = 512;
static_assert(kExtOffset + sizeof(HeaderExt) <= kSectionOffset);
constexpr uint32_t kMaxSectionBytes = uint32_t{1} << 26;
constexpr uint32_t kMaxWidth = 100000;

// Bytes per row of each block column: labels, numeric, sparse and (format 3) the multi-hot list
// lengths (u32 per row and multi-hot feature). Criteo's: 4, 52, 104, 0 (160 a row).
struct RowBytes {
  size_t column[4] = {sizeof(float), kNumNumeric * sizeof(float), kNumSparse * sizeof(uint32_t), 0};
  RowBytes() = default;
  explicit RowBytes(const FeatureWidths& w)
      : column{sizeof(float), size_t(w.numeric) * sizeof(float), size_t(w.sparse) * sizeof(uint32_t),
               size_t(w.multi_hot) * sizeof(uint32_t)} {}
  size_t block() const { return column[0] + column[1] + column[2] + column[3]; }
  int last() const { return column[3] > 0 ? 3 : column[2] > 0 ? 2 : column[1] > 0 ? 1 : 0; }
};

size_t align_piece(size_t n) { return (n + kPieceAlign - 1) / kPieceAlign * kPieceAlign; }

// The block schedule of formats 2 and 3: block k holds min(first << k, max) rows; its column
// pieces follow each other (labels, numeric, sparse, lengths; each capacity x its row bytes), and
// the block starts right after the previous one (the header, then RowBytes::block() bytes per
// row of capacity of every earlier block).
struct BlockCursor {
  uint64_t first_block_rows, max_block_rows;
  RowBytes bytes;
  uint64_t first_row = 0;  // of the current block
  uint64_t capacity;       // rows of the current block
  uint64_t offset;         // file offset of the current block
  BlockCursor(uint64_t first, uint64_t max, RowBytes row_bytes = {}, uint64_t header = kHeaderBytesV2)
      : first_block_rows(first), max_block_rows(max), bytes(row_bytes), capacity(first), offset(header) {}
  void next() {
    first_row += capacity;
    offset += bytes.block() * capacity;
    capacity = std::min(capacity * 2, max_block_rows);
  }
  size_t piece_offset(int column) const {
    size_t at = 0;
    for (int c = 0; c < column; ++c) at += bytes.column[c] * capacity;
    return at;
  }
  // File offset just after the last piece of this block holding `rows` rows (padded).
  uint64_t end(uint64_t rows) const {
    const int last = bytes.last();
    return offset + piece_offset(last) + align_piece(rows * bytes.column[last]);
  }
};

// True for a block size format 2 accepts: a power of two, a multiple of 1024 rows (so every piece
// is a multiple of kPieceAlign), at most 2^24.
bool valid_block_rows(uint64_t n) {
  return n >= 1024 && n <= (uint64_t{1} << 24) && (n & (n - 1)) == 0;
}

constexpr const char* kColumnNames[5] = {"labels", "dense", "sparse", "list lengths", "list ids"};

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

std::string describe_hashing(const HashingConfig& hashing) {
  const std::vector<uint32_t>& rows = hashing.rows;
  bool uniform = true;
  for (size_t t = 1; t < rows.size(); ++t) uniform = uniform && rows[t] == rows[0];
  if (uniform && !rows.empty() && rows.size() == size_t(kNumSparse)) {
    return fmt::format("rows per table {}, salt {}", rows[0], hashing.salt);
  }
  if (uniform && !rows.empty()) {
    return fmt::format("{} tables of {} rows, salt {}", rows.size(), rows[0], hashing.salt);
  }
  std::string out = "rows per table [";
  for (size_t t = 0; t < rows.size(); ++t) out += fmt::format("{}{}", t ? "," : "", rows[t]);
  return out + fmt::format("], salt {}", hashing.salt);
}

FeatureWidths widths_of(const FeatureSchema& schema) {
  return FeatureWidths{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
}

// The values the parser can produce for `schema` (validate_view for Criteo's layout, whose
// messages and speed it keeps): labels 0/1, log1p numeric values 0 or in [log1p(1), max],
// identity values finite and |x| < 1e30, one-hot rows < rows[t], list ids in 1..rows[t]-1 and
// lists no longer than their max length. Error "`where`: row R: what" for the first bad row.
void validate_rows(const DataView& view, const FeatureSchema& schema, const HashingConfig& hashing,
                   const std::string& where) {
  if (schema.is_criteo()) {
    validate_view(view, hashing, where);
    return;
  }
  const int n = view.numeric_width, s = view.sparse_width, m = view.multi_hot;
  const float min_positive = transform_numeric(1);
  const float max_numeric = max_numeric_value();
  std::vector<bool> log1p(size_t(n), true);
  for (int j = 0; j < n; ++j) {
    log1p[size_t(j)] = schema.columns[size_t(schema.numeric_column(j))].transform == NumericTransformKind::Log1p;
  }
  for (size_t i = 0; i < view.rows; ++i) {
    const auto bad = [&](const std::string& what) { throw Error(fmt::format("{}: row {}: {}", where, i, what)); };
    const float label = view.labels[i];
    if (label != 0.0f && label != 1.0f) bad(fmt::format("label {} is not 0 or 1", label));
    for (int j = 0; j < n; ++j) {
      const float x = view.numeric[i * size_t(n) + size_t(j)];
      const bool ok = log1p[size_t(j)] ? (x == 0.0f || (x >= min_positive && x <= max_numeric))
                                       : (std::isfinite(x) && std::fabs(x) < 1e30f);
      if (!ok) bad(fmt::format("numeric {} value {} is not a value the parser produces", schema.numeric_name(j), x));
    }
    for (int t = 0; t < s; ++t) {
      const uint32_t row = view.sparse[i * size_t(s) + size_t(t)];
      if (row >= hashing.rows[size_t(t)]) {
        bad(fmt::format("categorical {} row {} is out of range (table has {} rows)", schema.table_name(t), row,
                        hashing.rows[size_t(t)]));
      }
    }
    for (int k = 0; k < m; ++k) {
      const uint64_t begin = view.bag_begin(i, k), end = view.bag_end(i, k);
      if (end - begin > schema.max_length(k)) {
        bad(fmt::format("multi-hot {} list of {} ids is longer than its max length {}", schema.table_name(s + k),
                        end - begin, schema.max_length(k)));
      }
      const uint32_t rows = hashing.rows[size_t(s + k)];
      for (uint64_t at = begin; at < end; ++at) {
        if (view.bag_ids[at] == 0 || view.bag_ids[at] >= rows) {
          bad(fmt::format("multi-hot {} id {} is out of range (rows 1 to {})", schema.table_name(s + k),
                          view.bag_ids[at], rows - 1));
        }
      }
    }
  }
}

// Checks that `data` has the widths of `schema` and `hashing` one table per table of it.
void check_shape(const std::string& where, const DataView& data, const FeatureSchema& schema,
                 const HashingConfig& hashing) {
  const FeatureWidths w = widths_of(schema);
  if (data.widths() != w) {
    throw Error(fmt::format("{}: rows of {} numeric, {} categorical and {} multi-hot features do not have the "
                            "schema's widths ({}, {}, {})",
                            where, data.numeric_width, data.sparse_width, data.multi_hot, w.numeric, w.sparse,
                            w.multi_hot));
  }
  if (hashing.tables() != w.tables()) {
    throw Error(fmt::format("{}: the hashing config has {} tables, the schema {}", where, hashing.tables(),
                            w.tables()));
  }
}

}  // namespace

void write_cache(const std::string& path, const DataView& data, const HashingConfig& hashing,
                 std::span<const uint64_t> numeric_missing, const FeatureSchema& schema) {
  schema.validate(path + ": schema");
  validate_hashing(hashing, path + ": hashing config");
  check_shape(path + ": data to cache", data, schema, hashing);
  validate_rows(data, schema, hashing, path + ": data to cache");
  if (data.rows == 0) throw Error(path + ": no rows to write to a cache");
  for (int j = 0; j < std::min(int(numeric_missing.size()), schema.numeric_count()); ++j) {
    if (numeric_missing[size_t(j)] > data.rows) {
      throw Error(fmt::format("{}: dense_missing of {} is {}, more than the {} rows to cache", path,
                              schema.numeric_name(j), numeric_missing[j], data.rows));
    }
  }
  CacheWriter writer(path, hashing, schema);
  writer.append(data);
  writer.commit(numeric_missing);
}

struct CacheWriter::State {
  State(const std::string& path, RowBytes row_bytes, uint64_t header_bytes)
      : out(path), cursor(kCacheFirstBlockRows, kCacheMaxBlockRows, row_bytes, header_bytes) {}
  AtomicFileWriter out;
  BlockCursor cursor;
  Checksum64 sums[5];
  std::string schema_json;
  std::vector<uint32_t> lengths;  // scratch: the list lengths of the rows being appended
  std::vector<uint32_t> ids;      // every list id, written after the blocks at commit
};

namespace {

// Bytes of format 3's section for `schema` (its JSON text given).
size_t section_bytes(const FeatureSchema& schema, const std::string& json) {
  const size_t tables = size_t(schema.table_count()) * 4;
  return (tables + 7) / 8 * 8 + size_t(schema.numeric_count()) * 8 + json.size();
}

}  // namespace

CacheWriter::CacheWriter(std::string path, const HashingConfig& hashing, const FeatureSchema& schema)
    : path_(std::move(path)), hashing_(hashing), schema_(schema) {
  schema_.validate(path_ + ": schema");
  validate_hashing(hashing_, path_ + ": hashing config");
  if (hashing_.tables() != schema_.table_count()) {
    throw Error(fmt::format("{}: the hashing config has {} tables, the schema {}", path_, hashing_.tables(),
                            schema_.table_count()));
  }
  const std::string json = schema_.to_json().dump();
  const size_t section = section_bytes(schema_, json);
  if (section > kMaxSectionBytes) throw Error(path_ + ": the schema is too large for a cache header");
  state_ = std::make_unique<State>(path_, RowBytes(widths_of(schema_)), align_piece(kSectionOffset + section));
  state_->schema_json = json;
}

CacheWriter::~CacheWriter() = default;  // an uncommitted temporary is removed by its writer

void CacheWriter::append(const DataView& rows) {
  if (rows.rows == 0) return;
  check_shape(path_ + ": data to cache", rows, schema_, hashing_);
  validate_rows(rows, schema_, hashing_, path_ + ": data to cache");
  if (rows.rows > kMaxCacheRows - rows_) throw Error(path_ + ": too many rows for a cache");
  const size_t m = size_t(rows.multi_hot);
  if (m > 0) {
    const uint64_t first = rows.bag_offsets[0], last = rows.bag_offsets[rows.rows * m];
    state_->lengths.resize(rows.rows * m);
    for (size_t k = 0; k < rows.rows * m; ++k) {
      state_->lengths[k] = static_cast<uint32_t>(rows.bag_offsets[k + 1] - rows.bag_offsets[k]);
    }
    state_->ids.insert(state_->ids.end(), rows.bag_ids + first, rows.bag_ids + last);
    state_->sums[4].update(rows.bag_ids + first, (last - first) * sizeof(uint32_t));
  }
  const BlockCursor& shape = state_->cursor;
  const char* columns[4] = {reinterpret_cast<const char*>(rows.labels),
                            reinterpret_cast<const char*>(rows.numeric),
                            reinterpret_cast<const char*>(rows.sparse),
                            reinterpret_cast<const char*>(state_->lengths.data())};
  for (int c = 0; c < 4; ++c) {
    if (shape.bytes.column[c] > 0) state_->sums[c].update(columns[c], rows.rows * shape.bytes.column[c]);
  }
  BlockCursor& block = state_->cursor;
  for (size_t done = 0; done < rows.rows;) {
    if (rows_ == block.first_row + block.capacity) block.next();
    const uint64_t within = rows_ - block.first_row;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(rows.rows - done, block.capacity - within));
    for (int c = 0; c < 4; ++c) {
      const size_t width = block.bytes.column[c];
      if (width == 0) continue;
      state_->out.write_at(block.offset + block.piece_offset(c) + within * width, columns[c] + done * width,
                           n * width);
    }
    done += n;
    rows_ += n;
  }
}

void CacheWriter::commit(std::span<const uint64_t> given_missing) {
  if (rows_ == 0) throw Error(path_ + ": no rows to write to a cache");
  const int numeric = schema_.numeric_count();
  // One count per numeric column (columns the caller has no count for: 0).
  std::vector<uint64_t> numeric_missing(size_t(numeric), 0);
  std::copy_n(given_missing.begin(), std::min(given_missing.size(), numeric_missing.size()), numeric_missing.begin());
  for (int j = 0; j < numeric; ++j) {
    if (numeric_missing[size_t(j)] > rows_) {
      throw Error(fmt::format("{}: dense_missing of {} is {}, more than the {} rows to cache",
                              path_, schema_.numeric_name(j), numeric_missing[j], rows_));
    }
  }
  const BlockCursor& block = state_->cursor;
  const std::string& json = state_->schema_json;
  // The section: table rows, numeric_missing (every numeric column's count), schema.
  std::vector<char> section(section_bytes(schema_, json), 0);
  if (!hashing_.rows.empty()) std::memcpy(section.data(), hashing_.rows.data(), hashing_.rows.size() * 4);
  const size_t missing_at = (hashing_.rows.size() * 4 + 7) / 8 * 8;
  for (int j = 0; j < numeric; ++j) {
    std::memcpy(section.data() + missing_at + size_t(j) * 8, &numeric_missing[size_t(j)], 8);
  }
  std::memcpy(section.data() + missing_at + size_t(numeric) * 8, json.data(), json.size());

  HeaderV2 h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.header_bytes = static_cast<uint32_t>(align_piece(kSectionOffset + section.size()));
  h.rows = rows_;
  for (int t = 0; t < std::min(kNumSparse, hashing_.tables()); ++t) h.table_rows[t] = hashing_.rows[size_t(t)];
  h.salt = hashing_.salt;
  for (int j = 0; j < std::min(kNumNumeric, numeric); ++j) h.numeric_missing[j] = numeric_missing[size_t(j)];
  for (int c = 0; c < 3; ++c) h.column_checksum[c] = state_->sums[c].digest();
  h.first_block_rows = static_cast<uint32_t>(block.first_block_rows);
  h.max_block_rows = static_cast<uint32_t>(block.max_block_rows);
  h.header_checksum = checksum64(&h, offsetof(HeaderV2, header_checksum));
  HeaderExt e{};
  const FeatureWidths w = widths_of(schema_);
  e.numeric_width = uint32_t(w.numeric);
  e.sparse_width = uint32_t(w.sparse);
  e.multi_hot = uint32_t(w.multi_hot);
  e.tables = uint32_t(hashing_.tables());
  e.bag_ids = state_->ids.size();
  e.bag_checksum[0] = state_->sums[3].digest();
  e.bag_checksum[1] = state_->sums[4].digest();
  e.schema_bytes = static_cast<uint32_t>(json.size());
  e.section_bytes = static_cast<uint32_t>(section.size());
  e.section_checksum = checksum64(section.data(), section.size());
  e.ext_checksum = checksum64(&e, offsetof(HeaderExt, ext_checksum));
  std::vector<char> header_block(h.header_bytes, 0);
  std::memcpy(header_block.data(), &h, sizeof h);
  std::memcpy(header_block.data() + kExtOffset, &e, sizeof e);
  std::memcpy(header_block.data() + kSectionOffset, section.data(), section.size());
  state_->out.write_at(0, header_block.data(), header_block.size());
  // The blocks end with the last block's last piece, padded to kPieceAlign (unwritten bytes of
  // the last block's other pieces stay holes that read as zeros); the list ids follow, padded.
  const uint64_t last_rows = rows_ - block.first_row;
  const int last = block.bytes.last();
  const size_t last_at = block.offset + block.piece_offset(last) + last_rows * block.bytes.column[last];
  const uint64_t blocks_end = block.end(last_rows);
  if (blocks_end > last_at) {
    const std::vector<char> zeros(blocks_end - last_at, 0);
    state_->out.write_at(last_at, zeros.data(), zeros.size());
  }
  if (!state_->ids.empty()) {
    const size_t bytes = state_->ids.size() * 4;
    state_->out.write_at(blocks_end, state_->ids.data(), bytes);
    const size_t pad = align_piece(bytes) - bytes;
    if (pad > 0) {
      const std::vector<char> zeros(pad, 0);
      state_->out.write_at(blocks_end + bytes, zeros.data(), pad);
    }
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
  return fmt::format("cache format version {}, this build reads versions 1 to {}", version, kCacheVersion);
}

// The first bytes of a cache file (up to the section), with its size.
struct HeadBytes {
  char bytes[kSectionOffset] = {};
  size_t got = 0;
  size_t size = 0;
  uint32_t version() const {
    uint32_t v = 0;
    if (got >= 12) std::memcpy(&v, bytes + 8, 4);
    return v;
  }
};

bool pread_all(int fd, char* to, size_t n, uint64_t from) {
  for (size_t done = 0; done < n;) {
    const ssize_t got = ::pread(fd, to + done, n - done, static_cast<off_t>(from + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

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

// What a cache's header says, whatever its format: the HeaderV2 fields, and (format 3) the
// extension, full hashing, numeric_missing and schema; formats 1 and 2 are Criteo's layout.
struct CacheHeader {
  HeaderV2 h{};
  HeaderExt e{};
  HashingConfig hashing;
  std::vector<uint64_t> numeric_missing;
  FeatureSchema schema = FeatureSchema::criteo();
  FeatureWidths widths() const { return widths_of(schema); }
};

// Checks magic, size against the header, version, header checksums, and for format 3 the
// section (checksum, then the schema's JSON and its agreement with the widths), in that order.
CacheHeader checked_header(const std::string& path, int fd, const HeadBytes& head) {
  if (head.got < sizeof kCacheMagic || std::memcmp(head.bytes, kCacheMagic, sizeof kCacheMagic) != 0) {
    fail(path, "not a shadowsync binary cache (wrong magic, expected \"SSYNCDAT\")");
  }
  const uint32_t version = head.version();
  const size_t header_bytes = version >= 2 ? kHeaderBytesV2 : kHeaderBytes;
  if (head.size < header_bytes) {
    fail(path, fmt::format("truncated cache: {} bytes, shorter than the {}-byte header", head.size,
                           header_bytes));
  }
  if (version < 1 || version > kCacheVersion) fail(path, version_error(version));
  CacheHeader out;
  HeaderV2& h = out.h;
  std::memcpy(&h, head.bytes, sizeof h);
  const auto criteo_hashing = [&] {
    out.hashing.rows.assign(h.table_rows, h.table_rows + kNumSparse);
    out.hashing.salt = h.salt;
    out.numeric_missing.assign(h.numeric_missing, h.numeric_missing + kNumNumeric);
  };
  if (version == 1) {
    uint64_t stored = 0;
    std::memcpy(&stored, head.bytes + kHeaderChecksumOffsetV1, sizeof stored);
    if (h.header_bytes != kHeaderBytes || checksum64(head.bytes, kHeaderChecksumOffsetV1) != stored) {
      fail(path, "corrupted cache header (checksum mismatch)");
    }
    h.first_block_rows = h.max_block_rows = 0;
    criteo_hashing();
    return out;
  }
  const bool header_size_ok = version == 2 ? h.header_bytes == kHeaderBytesV2
                                           : h.header_bytes >= kHeaderBytesV2 && h.header_bytes % kPieceAlign == 0;
  if (!header_size_ok || checksum64(&h, offsetof(HeaderV2, header_checksum)) != h.header_checksum) {
    fail(path, "corrupted cache header (checksum mismatch)");
  }
  if (version == 2) {
    criteo_hashing();
    return out;
  }
  HeaderExt& e = out.e;
  std::memcpy(&e, head.bytes + kExtOffset, sizeof e);
  if (checksum64(&e, offsetof(HeaderExt, ext_checksum)) != e.ext_checksum) {
    fail(path, "corrupted cache header (checksum mismatch)");
  }
  const uint64_t tables_bytes = (uint64_t{e.tables} * 4 + 7) / 8 * 8;
  if (e.numeric_width > kMaxWidth || e.sparse_width > kMaxWidth || e.multi_hot > kMaxWidth ||
      e.tables != e.sparse_width + e.multi_hot || e.section_bytes > kMaxSectionBytes ||
      tables_bytes + uint64_t{e.numeric_width} * 8 + e.schema_bytes != e.section_bytes ||
      align_piece(kSectionOffset + e.section_bytes) != h.header_bytes) {
    fail(path, "corrupted cache header (impossible widths or section size)");
  }
  if (head.size < h.header_bytes) {
    fail(path, fmt::format("truncated cache: {} bytes, shorter than the {}-byte header", head.size, h.header_bytes));
  }
  // At least one byte, so that data() is never null (memcpy and checksum64 of 0 bytes included).
  std::vector<char> section(std::max<size_t>(1, e.section_bytes));
  if (!pread_all(fd, section.data(), e.section_bytes, kSectionOffset)) fail(path, "cannot read the cache's header");
  if (checksum64(section.data(), e.section_bytes) != e.section_checksum) {
    fail(path, "corrupted cache header (checksum mismatch in the schema section)");
  }
  out.hashing.rows.resize(e.tables);
  if (e.tables > 0) std::memcpy(out.hashing.rows.data(), section.data(), size_t{e.tables} * 4);
  out.hashing.salt = h.salt;
  out.numeric_missing.resize(e.numeric_width);
  if (e.numeric_width > 0) {
    std::memcpy(out.numeric_missing.data(), section.data() + tables_bytes, size_t{e.numeric_width} * 8);
  }
  const std::string where = path + ": stored schema";
  const std::string_view json(section.data() + tables_bytes + size_t{e.numeric_width} * 8, e.schema_bytes);
  out.schema = FeatureSchema::from_json(parse_untrusted_json(json, where), where);
  out.schema.validate(where);
  const FeatureWidths w = out.widths();
  if (w.numeric != int(e.numeric_width) || w.sparse != int(e.sparse_width) || w.multi_hot != int(e.multi_hot)) {
    fail(path, fmt::format("corrupted cache header (the stored schema has {}/{}/{} numeric/categorical/multi-hot "
                           "columns, the header {}/{}/{})",
                           w.numeric, w.sparse, w.multi_hot, e.numeric_width, e.sparse_width, e.multi_hot));
  }
  return out;
}

// Closes a descriptor when it goes out of scope.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

std::optional<CacheHeader> read_cache_header(const std::string& path) {
  if (!has_cache_magic(path)) return std::nullopt;
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  const FdCloser closer{fd};
  CacheHeader header = checked_header(path, fd, read_head(fd, size));
  validate_hashing(header.hashing, path + ": stored hashing config");
  return header;
}

}  // namespace

std::optional<HashingConfig> read_cache_hashing(const std::string& path) {
  std::optional<CacheHeader> header = read_cache_header(path);
  if (!header) return std::nullopt;
  return header->hashing;
}

std::optional<FeatureSchema> read_cache_schema(const std::string& path) {
  std::optional<CacheHeader> header = read_cache_header(path);
  if (!header) return std::nullopt;
  return header->schema;
}

// What a MappedCache's view points into: a format-1 file mapped whole, or the address ranges
// into which the block pieces of formats 2 and 3 are mapped (or read, where pages are larger
// than the pieces' alignment), the list ids section, and the list offsets built from the lengths.
struct MappedCache::Mapping {
  std::unique_ptr<MappedFile> file;
  void* column_base[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  size_t column_bytes[5] = {0, 0, 0, 0, 0};
  std::vector<uint64_t> bag_offsets;
  Mapping() = default;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    for (int c = 0; c < 5; ++c) {
      if (column_base[c] != nullptr) ::munmap(column_base[c], column_bytes[c]);
    }
  }
};

namespace {

// The stored hashing must be the expected one (checked before any column is mapped).
void check_expected_hashing(const std::string& path, const HashingConfig& stored,
                            const HashingConfig& expected) {
  if (stored != expected) {
    fail(path, "cache was hashed with " + describe_hashing(stored) + ", but " + describe_hashing(expected) +
                   " is expected (convert the TSV again with these settings)");
  }
  validate_hashing(stored, path + ": stored hashing config");
}

// The checks shared by every format once the columns are mapped: column checksums,
// numeric_missing, values (validate_rows). `view` points into the columns, `lengths` (format 3
// with lists) into the list lengths. One pass over the file: rows are checksummed and
// value-checked a chunk at a time, so a chunk is checked while its pages are still resident (a
// cache larger than the memory allowed is read from disk once, not once for the checksums and
// again for the values). A chunk with a bad value is only noted; a checksum mismatch is reported
// first, then validate_rows of the whole view names the first bad row in the cache's own numbering.
void check_contents(const std::string& path, const CacheHeader& header, const DataView& view,
                    const uint32_t* lengths, const HashingConfig& hashing) {
  const HeaderV2& h = header.h;
  const RowBytes row_bytes(view.widths());
  const char* columns[4] = {reinterpret_cast<const char*>(view.labels),
                            reinterpret_cast<const char*>(view.numeric),
                            reinterpret_cast<const char*>(view.sparse),
                            reinterpret_cast<const char*>(lengths)};
  Checksum64 sums[5];
  bool bad_value = false;
  for (size_t begin = 0; begin < view.rows; begin += kCheckChunkRows) {
    const size_t end = std::min<size_t>(view.rows, begin + kCheckChunkRows);
    const auto sum = [&](int c) {
      if (row_bytes.column[c] == 0) return;
      sums[c].update(columns[c] + begin * row_bytes.column[c], (end - begin) * row_bytes.column[c]);
    };
    tbb::parallel_invoke([&] { sum(0); }, [&] { sum(1); }, [&] { sum(2); }, [&] { sum(3); });
    if (!bad_value) {
      try {
        validate_rows(view.slice(begin, end), header.schema, hashing, path);
      } catch (const Error&) {
        bad_value = true;  // reported below, after the checksums, with the row's cache number
      }
    }
  }
  if (view.multi_hot > 0) sums[4].update(view.bag_ids, view.bag_offsets[view.rows * size_t(view.multi_hot)] * 4);
  const uint64_t stored[5] = {h.column_checksum[0], h.column_checksum[1], h.column_checksum[2],
                              header.e.bag_checksum[0], header.e.bag_checksum[1]};
  const int checked = h.version >= 3 ? 5 : 3;
  for (int c = 0; c < checked; ++c) {
    if (sums[c].digest() != stored[c]) {
      fail(path, fmt::format("checksum mismatch in column '{}': the cache is corrupted", kColumnNames[c]));
    }
  }
  for (size_t j = 0; j < header.numeric_missing.size(); ++j) {
    if (header.numeric_missing[j] > h.rows) {
      fail(path, fmt::format("header: dense_missing of {} is {}, more than the {} rows: the cache "
                             "is corrupted",
                             header.schema.numeric_name(int(j)), header.numeric_missing[j], h.rows));
    }
  }
  if (bad_value) validate_rows(view, header.schema, hashing, path);
}

// Reserves `bytes` of address space for a column and maps (or reads) `pieces` of the file into it
// side by side: each piece is (file offset, bytes at the start of the range... ) in order.
void* map_column(const std::string& path, int fd, const char* name, size_t bytes,
                 const std::vector<std::pair<uint64_t, size_t>>& pieces, bool map_pieces, size_t blocks) {
  void* base = ::mmap(nullptr, bytes, map_pieces ? PROT_NONE : PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    fail(path, fmt::format("cannot reserve {} bytes of address space for column '{}': {}", bytes, name,
                           std::strerror(errno)));
  }
  size_t at = 0;
  for (const auto& [from, piece] : pieces) {
    char* to = static_cast<char*>(base) + at;
    if (map_pieces) {
      if (::mmap(to, piece, PROT_READ, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(from)) == MAP_FAILED) {
        const int err = errno;
        ::munmap(base, bytes);
        fail(path, fmt::format("cannot map column '{}' of the cache ({} blocks): {}", name, blocks,
                               std::strerror(err)));
      }
    } else if (!pread_all(fd, to, piece, from)) {
      ::munmap(base, bytes);
      fail(path, "cannot read the cache: short file");
    }
    at += piece;
  }
  if (!map_pieces) ::mprotect(base, bytes, PROT_READ);
  return base;
}

}  // namespace

MappedCache MappedCache::open(const std::string& path, const HashingConfig& expected) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  const FdCloser closer{fd};
  const CacheHeader header = checked_header(path, fd, read_head(fd, size));
  const HeaderV2& h = header.h;
  auto mapping = std::make_unique<Mapping>();
  DataView view{};
  const uint32_t* lengths = nullptr;
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
    check_expected_hashing(path, header.hashing, expected);
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
    const FeatureWidths widths = header.widths();
    const RowBytes row_bytes(widths);
    // Every full block takes row_bytes.block() bytes a row of the file, so a row count the size
    // cannot hold is refused before walking the blocks.
    if (h.rows == 0 || h.rows > kMaxCacheRows) {
      fail(path, fmt::format("corrupted cache header (impossible row count {})", h.rows));
    }
    std::vector<BlockCursor> blocks{BlockCursor(h.first_block_rows, h.max_block_rows, row_bytes, h.header_bytes)};
    const bool walkable = h.rows <= size / row_bytes.block() + h.max_block_rows;
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
    const uint64_t ids_bytes = header.e.bag_ids * 4;
    const bool ids_fit = header.e.bag_ids <= (uint64_t{1} << 50);
    const uint64_t total = walkable && ids_fit ? end.end(last_rows) + align_piece(ids_bytes)
                                               : std::numeric_limits<uint64_t>::max();
    if (size < total) {
      fail(path, walkable && ids_fit ? fmt::format("truncated cache: {} bytes, {} rows need {} bytes", size,
                                                   h.rows, total)
                                     : fmt::format("truncated cache: {} bytes cannot hold {} rows", size, h.rows));
    }
    if (size > total) {
      fail(path, fmt::format("cache has {} unexpected bytes after its last column", size - total));
    }
    check_expected_hashing(path, header.hashing, expected);
    const long page = ::sysconf(_SC_PAGESIZE);
    const bool map_pieces = page > 0 && kPieceAlign % static_cast<size_t>(page) == 0;
    for (int c = 0; c < 4; ++c) {
      if (row_bytes.column[c] == 0) continue;
      std::vector<std::pair<uint64_t, size_t>> pieces;
      for (const BlockCursor& block : blocks) {
        const uint64_t rows_here = std::min(block.capacity, h.rows - block.first_row);
        pieces.emplace_back(block.offset + block.piece_offset(c), align_piece(rows_here * row_bytes.column[c]));
      }
      // Every piece but the last holds a whole block (a multiple of kPieceAlign), so pieces sit
      // side by side at their rows' positions.
      const size_t bytes = align_piece(h.rows * row_bytes.column[c]);
      mapping->column_base[c] = map_column(path, fd, kColumnNames[c], bytes, pieces, map_pieces, blocks.size());
      mapping->column_bytes[c] = bytes;
    }
    view.rows = static_cast<size_t>(h.rows);
    view.labels = static_cast<const float*>(mapping->column_base[0]);
    view.numeric = static_cast<const float*>(mapping->column_base[1]);
    view.sparse = static_cast<const uint32_t*>(mapping->column_base[2]);
    view.numeric_width = widths.numeric;
    view.sparse_width = widths.sparse;
    view.multi_hot = widths.multi_hot;
    if (widths.multi_hot > 0) {
      lengths = static_cast<const uint32_t*>(mapping->column_base[3]);
      const size_t count = static_cast<size_t>(h.rows) * size_t(widths.multi_hot);
      mapping->bag_offsets.resize(count + 1);
      uint64_t at = 0;
      for (size_t k = 0; k < count; ++k) {
        mapping->bag_offsets[k] = at;
        at += lengths[k];
      }
      mapping->bag_offsets[count] = at;
      if (at != header.e.bag_ids) {
        fail(path, fmt::format("corrupted cache: the list lengths add up to {} ids, the header says {}", at,
                               header.e.bag_ids));
      }
      if (ids_bytes > 0) {
        const size_t bytes = align_piece(ids_bytes);
        mapping->column_base[4] = map_column(path, fd, kColumnNames[4], bytes, {{end.end(last_rows), bytes}},
                                             map_pieces, blocks.size());
        mapping->column_bytes[4] = bytes;
      }
      view.bag_offsets = mapping->bag_offsets.data();
      static const uint32_t kNoIds[1] = {0};
      view.bag_ids = ids_bytes > 0 ? static_cast<const uint32_t*>(mapping->column_base[4]) : kNoIds;
    } else if (header.e.bag_ids != 0) {
      fail(path, "corrupted cache header (list ids without multi-hot columns)");
    }
  }
  check_contents(path, header, view, lengths, expected);
  MappedCache cache;
  cache.hashing_ = expected;
  cache.schema_ = header.schema;
  cache.view_ = view;
  cache.numeric_missing_ = header.numeric_missing;
  cache.mapping_ = std::move(mapping);
  return cache;
}

MappedCache::MappedCache(MappedCache&& other) noexcept
    : mapping_(std::move(other.mapping_)),
      view_(std::exchange(other.view_, DataView{})),
      hashing_(std::move(other.hashing_)),
      schema_(std::move(other.schema_)),
      numeric_missing_(other.numeric_missing_) {}

MappedCache& MappedCache::operator=(MappedCache&& other) noexcept {
  if (this != &other) {
    mapping_ = std::move(other.mapping_);
    view_ = std::exchange(other.view_, DataView{});
    hashing_ = std::move(other.hashing_);
    schema_ = std::move(other.schema_);
    numeric_missing_ = other.numeric_missing_;
  }
  return *this;
}

MappedCache::~MappedCache() = default;

}  // namespace shadowsync
