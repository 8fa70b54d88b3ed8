// Tests of the binary cache (binary_cache.hpp). Format 2 (written): the round trip equals the
// parsed rows bit for bit across row blocks, the block layout, CacheWriter appending in any
// pieces writes the same file, refusal of truncated / oversized files, corrupted header, block
// sizes and columns. Format 1 (still read; the files are built here byte by byte): the round
// trip, and refusal of wrong magic, other version, truncated / oversized files, corrupted header
// and columns, mismatched hashing, values the parser cannot produce (checksums intact),
// numeric_missing above the row count, and FIFOs (refused, never waited on). Opening checks
// rows a chunk at a time: the first bad row keeps its cache number, checksums are reported first.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <utility>
#include <vector>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <algorithm>
#include <string>

#include "shadowsync/data/binary_cache.hpp"
#include "core/checksum.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/schema_request.hpp"
#include "shadowsync/core/error.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

const HashingConfig kHashing = HashingConfig::uniform(5000, 11);
constexpr size_t kRows = 300;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

DataBlock parsed_block(ParseReport* report = nullptr) {
  std::string text;
  for (uint64_t i = 0; i < kRows; ++i) text += test::format_line(test::pattern_line(i)) + "\n";
  ParseOptions o;
  o.hashing = kHashing;
  return parse_criteo_text(text, "x", o, report);
}

// A format-1 cache of `view` (the layout binary_cache.hpp documents for version 1: 320-byte
// header, then labels, numeric and sparse columns, each at a multiple of 64 bytes).
std::string format1_bytes(const DataView& view, const HashingConfig& hashing,
                          const std::array<uint64_t, kNumNumeric>& missing) {
  const size_t rows = view.rows;
  const size_t offset[3] = {320, (320 + rows * 4 + 63) / 64 * 64,
                            ((320 + rows * 4 + 63) / 64 * 64 + rows * 52 + 63) / 64 * 64};
  const size_t bytes[3] = {rows * 4, rows * 52, rows * 104};
  const void* columns[3] = {view.labels, view.numeric, view.sparse};
  std::string out(offset[2] + bytes[2], '\0');
  std::memcpy(out.data(), "SSYNCDAT", 8);
  const uint32_t version = 1, header_bytes = 320;
  std::memcpy(out.data() + 8, &version, 4);
  std::memcpy(out.data() + 12, &header_bytes, 4);
  const uint64_t n = rows;
  std::memcpy(out.data() + 16, &n, 8);
  std::memcpy(out.data() + 24, hashing.rows.data(), 26 * 4);
  std::memcpy(out.data() + 128, &hashing.salt, 8);
  std::memcpy(out.data() + 136, missing.data(), 13 * 8);
  for (int c = 0; c < 3; ++c) {
    std::memcpy(out.data() + offset[c], columns[c], bytes[c]);
    const uint64_t sum = checksum64(columns[c], bytes[c]);
    std::memcpy(out.data() + 240 + 8 * c, &sum, 8);
  }
  const uint64_t header_sum = checksum64(out.data(), 264);
  std::memcpy(out.data() + 264, &header_sum, 8);
  return out;
}

std::string open_error(const std::string& path, const HashingConfig& expected = kHashing) {
  try {
    MappedCache::open(path, expected);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A cache's rows, file and bytes, and copies of it with edits (each fixture fills them).
class CacheFileTest : public ::testing::Test {
 protected:
  std::string variant(const std::string& name, const std::string& bytes) {
    const std::string p = dir_.file(name);
    write_bytes(p, bytes);
    return p;
  }
  // Rewrites the header checksum (stored at `offset`, over the bytes before it) after a
  // deliberate header edit.
  static void reseal_header_at(std::string& bytes, size_t offset) {
    const uint64_t sum = checksum64(bytes.data(), offset);
    std::memcpy(bytes.data() + offset, &sum, 8);
  }

  test::TempDir dir_;
  DataBlock block_;
  ParseReport report_;
  std::string path_;
  std::string bytes_;
};

// A format-1 cache (as written before format 2) in path_.
class CacheTest : public CacheFileTest {
 protected:
  void SetUp() override {
    block_ = parsed_block(&report_);
    path_ = dir_.file("data.cache");
    bytes_ = format1_bytes(block_.view(), kHashing, report_.numeric_missing);
    write_bytes(path_, bytes_);
  }
  // Offsets of the columns for kRows rows (format 1).
  static constexpr size_t kLabels = 320;
  static constexpr size_t kNumeric = (kLabels + kRows * 4 + 63) / 64 * 64;
  static constexpr size_t kSparse = (kNumeric + kRows * 13 * 4 + 63) / 64 * 64;
  static constexpr size_t kTotal = kSparse + kRows * 26 * 4;

  static void reseal_header(std::string& bytes) { reseal_header_at(bytes, 264); }
};

TEST_F(CacheTest, Format1StillOpensBitForBit) {
  EXPECT_EQ(bytes_.size(), kTotal);
  EXPECT_EQ(bytes_.substr(0, 8), "SSYNCDAT");
  EXPECT_TRUE(has_cache_magic(path_));
  const MappedCache cache = MappedCache::open(path_, kHashing);
  ASSERT_EQ(cache.rows(), kRows);
  EXPECT_EQ(cache.hashing(), kHashing);
  EXPECT_EQ(cache.numeric_missing(), report_.numeric_missing);
  const DataView a = block_.view(), b = cache.view();
  EXPECT_EQ(std::memcmp(a.labels, b.labels, kRows * 4), 0);
  EXPECT_EQ(std::memcmp(a.numeric, b.numeric, kRows * kNumNumeric * 4), 0);
  EXPECT_EQ(std::memcmp(a.sparse, b.sparse, kRows * kNumSparse * 4), 0);
  // The columns sit at the documented offsets.
  EXPECT_EQ(reinterpret_cast<const char*>(b.numeric) - reinterpret_cast<const char*>(b.labels),
            static_cast<ptrdiff_t>(kNumeric - kLabels));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.sparse) % 64, 0u);
}

TEST_F(CacheTest, MovedCacheKeepsItsMapping) {
  MappedCache a = MappedCache::open(path_, kHashing);
  MappedCache b = std::move(a);
  EXPECT_EQ(a.rows(), 0u);
  ASSERT_EQ(b.rows(), kRows);
  EXPECT_EQ(b.view().labels[0], block_.view().labels[0]);
}

TEST_F(CacheTest, OverwritesAnExistingCache) {
  DataBlock small(3);
  small.labels()[1] = 1.0f;
  write_cache(path_, small.view(), kHashing);
  const MappedCache cache = MappedCache::open(path_, kHashing);
  ASSERT_EQ(cache.rows(), 3u);
  EXPECT_EQ(cache.view().labels[1], 1.0f);
}

TEST_F(CacheTest, RefusesWrongMagic) {
  std::string bad = bytes_;
  bad[3] = 'X';
  const std::string p = variant("magic.cache", bad);
  EXPECT_FALSE(has_cache_magic(p));
  EXPECT_EQ(open_error(p), p + ": not a shadowsync binary cache (wrong magic, expected \"SSYNCDAT\")");
  const std::string tiny = variant("tiny.cache", "SSYN");
  EXPECT_NE(open_error(tiny).find("wrong magic"), std::string::npos);
}

TEST_F(CacheTest, RefusesOtherVersion) {
  std::string bad = bytes_;
  const uint32_t version = 4;
  std::memcpy(bad.data() + 8, &version, 4);
  const std::string p = variant("version.cache", bad);
  EXPECT_EQ(open_error(p), p + ": cache format version 4, this build reads versions 1 to 3");
  EXPECT_EQ(open_error(variant("zero.cache", std::string("SSYNCDAT") + std::string(400, '\0'))),
            dir_.file("zero.cache") + ": cache format version 0, this build reads versions 1 to 3");
}

TEST_F(CacheTest, RefusesTruncatedAndOversizedFiles) {
  const std::string header_only = variant("h.cache", bytes_.substr(0, 100));
  EXPECT_NE(open_error(header_only).find(header_only + ": truncated cache: 100 bytes"),
            std::string::npos);
  const std::string cut = variant("cut.cache", bytes_.substr(0, bytes_.size() - 1));
  EXPECT_EQ(open_error(cut), cut + ": truncated cache: " + std::to_string(kTotal - 1) +
                                 " bytes, 300 rows need " + std::to_string(kTotal) + " bytes");
  const std::string longer = variant("long.cache", bytes_ + "x");
  EXPECT_EQ(open_error(longer), longer + ": cache has 1 unexpected bytes after its last column");
}

TEST_F(CacheTest, RefusesCorruptedHeader) {
  std::string bad = bytes_;
  bad[140] ^= 0x01;  // inside numeric_missing
  const std::string p = variant("header.cache", bad);
  EXPECT_EQ(open_error(p), p + ": corrupted cache header (checksum mismatch)");
}

TEST_F(CacheTest, RefusesCorruptedColumns) {
  const struct {
    size_t offset;
    const char* column;
  } cases[] = {{kLabels + 17, "labels"}, {kNumeric + 1000, "dense"}, {kSparse + 5, "sparse"},
               {kTotal - 1, "sparse"}};
  for (const auto& c : cases) {
    std::string bad = bytes_;
    bad[c.offset] ^= 0x40;
    const std::string p = variant("column.cache", bad);
    EXPECT_EQ(open_error(p),
              p + ": checksum mismatch in column '" + c.column + "': the cache is corrupted");
  }
}

TEST_F(CacheTest, RefusesMismatchedHashing) {
  EXPECT_EQ(open_error(path_, HashingConfig::uniform(5000, 12)),
            path_ + ": cache was hashed with rows per table 5000, salt 11, but rows per table "
                    "5000, salt 12 is expected (convert the TSV again with these settings)");
  EXPECT_NE(open_error(path_, HashingConfig::uniform(4999, 11)).find("rows per table 4999"),
            std::string::npos);
  HashingConfig one_table_differs = kHashing;
  one_table_differs.rows[25] = 6000;
  EXPECT_NE(open_error(path_, one_table_differs).find("rows per table [5000,"), std::string::npos);
}

TEST_F(CacheTest, RefusesOutOfRangeValuesEvenWithValidChecksums) {
  // A crafted file: C1 of row 0 set to 5000 (table has 5000 rows), checksums recomputed.
  std::string bad = bytes_;
  const uint32_t out_of_range = 5000;
  std::memcpy(bad.data() + kSparse, &out_of_range, 4);
  const uint64_t sum = checksum64(bad.data() + kSparse, kRows * 26 * 4);
  std::memcpy(bad.data() + 264 - 8, &sum, 8);  // column_checksum[2]
  reseal_header(bad);
  const std::string p = variant("range.cache", bad);
  EXPECT_EQ(open_error(p),
            p + ": row 0: sparse C1 row 5000 is out of range (table has 5000 rows)");
}

// Values the parser never produces, in a file whose checksums are intact: refused at open,
// naming the column and the first bad row.
TEST_F(CacheTest, RefusesValuesTheParserCannotProduce) {
  struct Case {
    size_t column;  // 0 labels, 1 numeric, 2 sparse
    size_t offset;  // byte offset of the value in the file
    float value;
    std::string expected;
  };
  const size_t i2_of_row_7 = kNumeric + (7 * kNumNumeric + 1) * 4;
  const std::vector<Case> cases = {
      {1, i2_of_row_7, 1e30f, "row 7: dense I2 value 1e+30 is not a value the parser produces"},
      {1, i2_of_row_7, std::nanf(""), "row 7: dense I2 value nan is not a value the parser"},
      {1, i2_of_row_7, INFINITY, "row 7: dense I2 value inf is not a value the parser"},
      {1, i2_of_row_7, -1.0f, "row 7: dense I2 value -1 is not a value the parser"},
      {1, i2_of_row_7, 0.3f, "row 7: dense I2 value 0.3 is not a value the parser"},
      {1, i2_of_row_7, 44.0f, "row 7: dense I2 value 44 is not a value the parser"},
      {0, kLabels + 5 * 4, 0.5f, "row 5: label 0.5 is not 0 or 1"},
      {0, kLabels + 5 * 4, 2.0f, "row 5: label 2 is not 0 or 1"},
  };
  const size_t column_offset[3] = {kLabels, kNumeric, kSparse};
  const size_t column_bytes[3] = {kRows * 4, kRows * kNumNumeric * 4, kRows * kNumSparse * 4};
  for (const Case& c : cases) {
    std::string bad = bytes_;
    std::memcpy(bad.data() + c.offset, &c.value, 4);
    // A later bad row too: the first one is named.
    std::memcpy(bad.data() + c.offset + 100 * (c.column == 0 ? 4 : kNumNumeric * 4), &c.value, 4);
    const uint64_t sum = checksum64(bad.data() + column_offset[c.column], column_bytes[c.column]);
    std::memcpy(bad.data() + 240 + 8 * c.column, &sum, 8);  // column_checksum[c]
    reseal_header(bad);
    const std::string p = variant("values.cache", bad);
    EXPECT_EQ(open_error(p).rfind(p + ": " + c.expected, 0), 0u) << open_error(p);
  }
  // The largest value the parser produces (log1p(2^63 - 1)) is accepted.
  std::string max_value = bytes_;
  const float largest = max_numeric_value();
  EXPECT_FLOAT_EQ(largest, 43.668272375276554f);
  std::memcpy(max_value.data() + i2_of_row_7, &largest, 4);
  const uint64_t sum = checksum64(max_value.data() + kNumeric, kRows * kNumNumeric * 4);
  std::memcpy(max_value.data() + 248, &sum, 8);
  reseal_header(max_value);
  EXPECT_EQ(open_error(variant("max.cache", max_value)), "(no error)");
}

TEST_F(CacheTest, RefusesNumericMissingAboveTheRowCount) {
  std::string bad = bytes_;
  const uint64_t too_many = kRows + 1;
  std::memcpy(bad.data() + 136 + 2 * 8, &too_many, 8);  // numeric_missing[2] (I3)
  reseal_header(bad);
  const std::string p = variant("missing.cache", bad);
  EXPECT_EQ(open_error(p), p + ": header: dense_missing of I3 is 301, more than the 300 rows: "
                               "the cache is corrupted");
  std::array<uint64_t, kNumNumeric> missing{};
  missing[0] = kRows + 1;
  EXPECT_THROW(write_cache(dir_.file("m.cache"), block_.view(), kHashing, missing), Error);
}

// A FIFO named as a cache is refused at once, never waited on (no writer ever comes).
TEST_F(CacheTest, FifoIsRefusedWithoutBlocking) {
  const std::string fifo = dir_.file("fifo.cache");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto result = std::async(std::launch::async, [&] {
    const bool magic = has_cache_magic(fifo);
    return std::make_pair(magic, open_error(fifo));
  });
  if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // unblock the stuck open(), then fail
    if (fd >= 0) ::close(fd);
    ADD_FAILURE() << "opening a FIFO blocked";
  }
  const auto [magic, message] = result.get();
  EXPECT_FALSE(magic);
  EXPECT_EQ(message,
            fifo + ": is a FIFO; binary caches, checkpoints and model files are read as regular files (only text data can be streamed)");
}

TEST_F(CacheTest, WriteLeavesNoTemporaryFile) {
  write_cache(path_, block_.view(), kHashing, report_.numeric_missing);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string(), "data.cache");
  }
}

TEST_F(CacheTest, WriteRefusesInvalidDataAndUnwritablePaths) {
  DataBlock block(2);
  block.labels()[1] = 0.5f;
  EXPECT_THROW(write_cache(dir_.file("x.cache"), block.view(), kHashing), Error);
  block.labels()[1] = 1.0f;
  block.numeric()[3] = -1.0f;
  EXPECT_THROW(write_cache(dir_.file("x.cache"), block.view(), kHashing), Error);
  block.numeric()[3] = 0.0f;
  block.sparse()[kNumSparse + 2] = 5000;
  try {
    write_cache(dir_.file("x.cache"), block.view(), kHashing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 1: sparse C3 row 5000 is out of range"),
              std::string::npos)
        << e.what();
  }
  block.sparse()[kNumSparse + 2] = 4999;
  const std::string nowhere = dir_.file("no/such/dir/x.cache");
  try {
    write_cache(nowhere, block.view(), kHashing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(nowhere + ".tmp."), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_cache(dir_.file("empty.cache"), DataBlock(0).view(), kHashing), Error);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("x.cache")));
}

TEST_F(CacheTest, ReadCacheHashingReadsTheCheckedHeader) {
  EXPECT_EQ(read_cache_hashing(path_), kHashing);
  const std::string format2 = dir_.file("f2.cache");
  write_cache(format2, block_.view(), HashingConfig::uniform(5000, 3));
  EXPECT_EQ(read_cache_hashing(format2), HashingConfig::uniform(5000, 3));
  EXPECT_EQ(read_cache_hashing(variant("text.tsv", "1\t2\n")), std::nullopt);
  EXPECT_EQ(read_cache_hashing(dir_.file("missing")), std::nullopt);
  std::string other_version = bytes_;
  other_version[8] = 7;
  const std::string v = variant("v.cache", other_version);
  EXPECT_THROW(read_cache_hashing(v), Error);
  std::string corrupted = bytes_;
  corrupted[130] ^= 1;  // the salt
  const std::string c = variant("c.cache", corrupted);
  EXPECT_THROW(read_cache_hashing(c), Error);
  const std::string short_header = variant("s.cache", bytes_.substr(0, 40));
  EXPECT_THROW(read_cache_hashing(short_header), Error);
}

TEST_F(CacheTest, OpenRefusesMissingAndDirectory) {
  EXPECT_NE(open_error(dir_.file("nope")).find("nope: cannot open"), std::string::npos);
  EXPECT_EQ(open_error(dir_.path().string()),
            dir_.path().string() + ": is a directory, expected a file");
}

// Format 3 of Criteo's layout (format 2's layout with the schema in its header): 5000 rows fill blocks of 1024 and 2048 rows and 1928 rows of a 4096-row block.
constexpr size_t kRows2 = 5000;
constexpr size_t kLastBlock = 4096 + 160 * (1024 + 2048);  // file offset of the third block
constexpr size_t kTotal2 = kLastBlock + 56 * 4096 + (1928 * 104 + 4095) / 4096 * 4096;

class CacheFormat2Test : public CacheFileTest {
 protected:
  void SetUp() override {
    std::string text;
    for (uint64_t i = 0; i < kRows2; ++i) {
      text += test::format_line(test::pattern_line(i)) + "\n";
    }
    ParseOptions o;
    o.hashing = kHashing;
    block_ = parse_criteo_text(text, "x", o, &report_);
    path_ = dir_.file("data.cache");
    write_cache(path_, block_.view(), kHashing, report_.numeric_missing);
    bytes_ = read_bytes(path_);
  }
  static void reseal_header(std::string& bytes) { reseal_header_at(bytes, 272); }
};

TEST_F(CacheFormat2Test, RoundTripAcrossBlocksEqualsParsedRows) {
  ASSERT_EQ(block_.rows(), kRows2);
  EXPECT_EQ(bytes_.size(), kTotal2);
  EXPECT_EQ(bytes_.substr(0, 8), "SSYNCDAT");
  uint32_t version = 0, first = 0, max = 0;
  std::memcpy(&version, bytes_.data() + 8, 4);
  std::memcpy(&first, bytes_.data() + 264, 4);
  std::memcpy(&max, bytes_.data() + 268, 4);
  EXPECT_EQ(version, 3u);
  EXPECT_EQ(first, 1024u);
  EXPECT_EQ(max, 1u << 20);
  // Row 1024 is the first row of the second block: its label at the block's start.
  float label = 0;
  std::memcpy(&label, bytes_.data() + 4096 + 160 * 1024, 4);
  EXPECT_EQ(label, block_.view().labels[1024]);
  uint32_t c1 = 0;  // sparse C1 of row 3072, the third block's first row
  std::memcpy(&c1, bytes_.data() + kLastBlock + 56 * 4096, 4);
  EXPECT_EQ(c1, block_.view().sparse[3072 * kNumSparse]);

  const MappedCache cache = MappedCache::open(path_, kHashing);
  ASSERT_EQ(cache.rows(), kRows2);
  EXPECT_EQ(cache.numeric_missing(), report_.numeric_missing);
  const DataView a = block_.view(), b = cache.view();
  EXPECT_EQ(std::memcmp(a.labels, b.labels, kRows2 * 4), 0);
  EXPECT_EQ(std::memcmp(a.numeric, b.numeric, kRows2 * kNumNumeric * 4), 0);
  EXPECT_EQ(std::memcmp(a.sparse, b.sparse, kRows2 * kNumSparse * 4), 0);
  MappedCache moved = MappedCache::open(path_, kHashing);
  MappedCache kept = std::move(moved);
  EXPECT_EQ(kept.view().sparse[kRows2 * kNumSparse - 1], a.sparse[kRows2 * kNumSparse - 1]);
  // No temporary file is left next to the cache.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 1);
}

TEST_F(CacheFormat2Test, AppendingInAnyPiecesWritesTheSameFile) {
  const std::string pieces = dir_.file("pieces.cache");
  {
    CacheWriter writer(pieces, kHashing);
    const size_t cuts[] = {0, 1, 700, 1024, 1025, 3100, 4999, kRows2};
    for (size_t i = 0; i + 1 < std::size(cuts); ++i) {
      writer.append(block_.view().slice(cuts[i], cuts[i + 1]));
    }
    EXPECT_EQ(writer.rows(), kRows2);
    writer.commit(report_.numeric_missing);
  }
  EXPECT_EQ(read_bytes(pieces), bytes_);
  // A writer destroyed before commit leaves nothing behind.
  {
    CacheWriter writer(dir_.file("abandoned.cache"), kHashing);
    writer.append(block_.view().slice(0, 2000));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.file("abandoned.cache")));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 2);
}

TEST_F(CacheFormat2Test, RefusesTruncatedOversizedAndCorruptedFiles) {
  const std::string cut = variant("cut.cache", bytes_.substr(0, bytes_.size() - 1));
  EXPECT_EQ(open_error(cut), cut + ": truncated cache: " + std::to_string(kTotal2 - 1) +
                                 " bytes, 5000 rows need " + std::to_string(kTotal2) + " bytes");
  const std::string header_cut = variant("header-cut.cache", bytes_.substr(0, 4000));
  EXPECT_EQ(open_error(header_cut),
            header_cut + ": truncated cache: 4000 bytes, shorter than the 4096-byte header");
  const std::string longer = variant("long.cache", bytes_ + "x");
  EXPECT_EQ(open_error(longer), longer + ": cache has 1 unexpected bytes after its last column");
  std::string header = bytes_;
  header[140] ^= 0x01;
  const std::string h = variant("header.cache", header);
  EXPECT_EQ(open_error(h), h + ": corrupted cache header (checksum mismatch)");
  std::string blocks = bytes_;
  const uint32_t odd_block = 1000;
  std::memcpy(blocks.data() + 264, &odd_block, 4);
  reseal_header(blocks);
  const std::string b = variant("blocks.cache", blocks);
  EXPECT_EQ(open_error(b), b + ": corrupted cache header (impossible block sizes 1000 and 1048576)");
  const struct {
    size_t offset;
    const char* column;
  } cases[] = {{4096 + 17, "labels"},                            // first block
               {4096 + 160 * 1024 + 4 * 2048 + 9, "dense"},       // second block
               {kLastBlock + 56 * 4096 + 1928 * 104 - 1, "sparse"}};  // last row
  for (const auto& c : cases) {
    std::string bad = bytes_;
    bad[c.offset] ^= 0x40;
    const std::string p = variant("column.cache", bad);
    EXPECT_EQ(open_error(p),
              p + ": checksum mismatch in column '" + c.column + "': the cache is corrupted");
  }
  EXPECT_EQ(open_error(path_, HashingConfig::uniform(5000, 12)),
            path_ + ": cache was hashed with rows per table 5000, salt 11, but rows per table "
                    "5000, salt 12 is expected (convert the TSV again with these settings)");
}

// Opening checks a cache a chunk of rows at a time (checksums and values in one pass over the
// file); across several chunks the first bad row is still named in the cache's own numbering,
// and a checksum mismatch is still reported before a bad value.
TEST(CacheChecksAcrossChunks, FirstBadRowIsNamedInTheCacheNumberingAndChecksumsComeFirst) {
  constexpr size_t kManyRows = 150000;  // blocks up to 131072 rows; checked in several chunks
  DataBlock block(kManyRows);
  for (size_t i = 0; i < kManyRows; ++i) {
    block.labels()[i] = static_cast<float>(i % 2);
    for (int j = 0; j < kNumNumeric; ++j) block.numeric()[i * kNumNumeric + j] = 0.0f;
    for (int t = 0; t < kNumSparse; ++t) block.sparse()[i * kNumSparse + t] = static_cast<uint32_t>((i + t) % 5000);
  }
  test::TempDir dir;
  const std::string path = dir.file("chunks.cache");
  write_cache(path, block.view(), kHashing, {});
  ASSERT_EQ(open_error(path), "(no error)");
  const MappedCache cache = MappedCache::open(path, kHashing);
  EXPECT_EQ(std::memcmp(cache.view().sparse, block.view().sparse, kManyRows * kNumSparse * 4), 0);

  std::string bytes = read_bytes(path);
  // Rows 64512 .. 130047 are the block of 65536 rows at this offset; its sparse piece starts
  // 56 x 65536 bytes into it.
  const size_t block_at = 4096 + 160 * size_t{64512};
  const auto sparse_at = [&](size_t row) { return block_at + 56 * 65536 + (row - 64512) * 104; };
  const uint32_t out_of_range = 5000;
  for (const size_t row : {size_t{120000}, size_t{70000}}) {
    std::memcpy(bytes.data() + sparse_at(row), &out_of_range, 4);
    block.sparse()[row * kNumSparse] = out_of_range;
  }
  const uint64_t sparse_sum = checksum64(block.view().sparse, kManyRows * kNumSparse * 4);
  std::memcpy(bytes.data() + 240 + 16, &sparse_sum, 8);  // column_checksum[2]
  const uint64_t header_sum = checksum64(bytes.data(), 272);
  std::memcpy(bytes.data() + 272, &header_sum, 8);
  const std::string bad = dir.file("bad.cache");
  write_bytes(bad, bytes);
  EXPECT_EQ(open_error(bad), bad + ": row 70000: sparse C1 row 5000 is out of range (table has 5000 rows)");
  // A corrupted label in the last row as well (block of 131072 rows from row 130048): the
  // checksum mismatch is reported.
  bytes[block_at + 160 * 65536 + (kManyRows - 1 - 130048) * 4 + 3] ^= 0x40;
  write_bytes(bad, bytes);
  EXPECT_EQ(open_error(bad), bad + ": checksum mismatch in column 'labels': the cache is corrupted");
}

// A format-2 cache (written before schemas: format 3's header without the extension and section)
// still opens, as Criteo's layout.
TEST_F(CacheFormat2Test, Format2StillOpensAsCriteo) {
  std::string old = bytes_;
  const uint32_t version = 2;
  std::memcpy(old.data() + 8, &version, 4);
  std::fill(old.begin() + 280, old.begin() + 4096, '\0');
  reseal_header(old);
  const std::string p = variant("format2.cache", old);
  const MappedCache cache = MappedCache::open(p, kHashing);
  EXPECT_EQ(cache.schema(), FeatureSchema::criteo());
  EXPECT_EQ(read_cache_schema(p), FeatureSchema::criteo());
  EXPECT_EQ(read_cache_hashing(p), kHashing);
  EXPECT_EQ(cache.numeric_missing(), report_.numeric_missing);
  EXPECT_EQ(std::memcmp(cache.view().sparse, block_.view().sparse, kRows2 * kNumSparse * 4), 0);
  EXPECT_EQ(read_cache_schema(path_), FeatureSchema::criteo());
}

// A schema of every kind: y (label), x (identity numeric), id (ignored), a (categorical), tags
// (multi-hot, at most 4 ids, mean).
FeatureSchema multi_hot_schema() {
  SchemaRequest r;
  r.header = true;
  r.label = "y";
  r.numeric = {"x:identity"};
  r.categorical = {"a"};
  r.multi_hot = {"tags:|:4:mean"};
  r.ignore = {"id"};
  return resolve_schema(r, std::vector<std::string>{"y", "x", "id", "a", "tags"}, 5);
}

// `rows` rows of multi_hot_schema() built by hand: row i has i % 5 ids (row i % 5 empty lists).
DataBlock multi_hot_block(size_t rows) {
  DataBlock block(rows, FeatureWidths{1, 1, 1});
  block.bag_offsets().assign(rows + 1, 0);
  for (size_t i = 0; i < rows; ++i) {
    block.labels()[i] = static_cast<float>(i % 3 == 0);
    block.numeric()[i] = -1.5f * static_cast<float>(i);
    block.sparse()[i] = static_cast<uint32_t>(i % 100);
    block.bag_offsets()[i] = block.bag_ids().size();
    for (size_t k = 0; k < i % 5; ++k) block.bag_ids().push_back(static_cast<uint32_t>(1 + (i + k) % 99));
  }
  block.bag_offsets()[rows] = block.bag_ids().size();
  return block;
}

class MultiHotCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("multi.cache");
    write_cache(path_, block_.view(), hashing_, {}, schema_);
    bytes_ = read_bytes(path_);
  }
  std::string variant(const std::string& name, const std::string& bytes) {
    const std::string p = dir_.file(name);
    write_bytes(p, bytes);
    return p;
  }
  // Offset of the schema's JSON in the header's section (rows of 2 tables, 1 numeric_missing).
  static constexpr size_t kJsonAt = 512 + 8 + 8;
  test::TempDir dir_;
  FeatureSchema schema_ = multi_hot_schema();
  HashingConfig hashing_ = hashing_for(schema_, 100, 5);
  static constexpr size_t kRowsM = 3000;  // three blocks
  DataBlock block_ = multi_hot_block(kRowsM);
  std::string path_;
  std::string bytes_;
};

TEST_F(MultiHotCacheTest, RoundTripKeepsValuesListsAndSchema) {
  uint32_t version = 0;
  std::memcpy(&version, bytes_.data() + 8, 4);
  EXPECT_EQ(version, 3u);
  const MappedCache cache = MappedCache::open(path_, hashing_);
  EXPECT_EQ(cache.schema(), schema_);
  EXPECT_EQ(cache.schema().columns[1].transform, NumericTransformKind::Identity);
  EXPECT_EQ(cache.schema().pooling(0), Pooling::Mean);
  EXPECT_EQ(read_cache_schema(path_), schema_);
  EXPECT_EQ(read_cache_hashing(path_), hashing_);
  const DataView a = block_.view(), b = cache.view();
  ASSERT_EQ(b.rows, kRowsM);
  EXPECT_EQ(b.widths(), (FeatureWidths{1, 1, 1}));
  EXPECT_EQ(std::memcmp(a.labels, b.labels, kRowsM * 4), 0);
  EXPECT_EQ(std::memcmp(a.numeric, b.numeric, kRowsM * 4), 0);
  EXPECT_EQ(b.numeric[7], -10.5f);
  EXPECT_EQ(std::memcmp(a.sparse, b.sparse, kRowsM * 4), 0);
  ASSERT_EQ(b.bag_offsets[kRowsM], a.bag_offsets[kRowsM]);
  EXPECT_EQ(std::memcmp(a.bag_offsets, b.bag_offsets, (kRowsM + 1) * 8), 0);
  EXPECT_EQ(std::memcmp(a.bag_ids, b.bag_ids, a.bag_offsets[kRowsM] * 4), 0);
  // Row 2999 (4 ids) in the third block: its list is ids 1 + (2999 + k) % 99.
  ASSERT_EQ(b.bag_end(2999, 0) - b.bag_begin(2999, 0), 4u);
  EXPECT_EQ(b.bag_ids[b.bag_begin(2999, 0)], 1u + 2999 % 99);
  EXPECT_EQ(b.bag_end(5, 0), b.bag_begin(5, 0));  // an empty list
  // A slice moves the offsets and shares the ids.
  const DataView tail = b.slice(2000, kRowsM);
  EXPECT_EQ(tail.bag_ids[tail.bag_begin(0, 0)], b.bag_ids[b.bag_begin(2000, 0)]);
  // Written in pieces: the same file.
  const std::string pieces = dir_.file("pieces.cache");
  {
    CacheWriter writer(pieces, hashing_, schema_);
    writer.append(a.slice(0, 1000));
    writer.append(a.slice(1000, 1001));
    writer.append(a.slice(1001, kRowsM));
    writer.commit({});
  }
  EXPECT_EQ(read_bytes(pieces), bytes_);
  // Opening with other hashing is refused, naming both.
  EXPECT_EQ(open_error(path_, HashingConfig::uniform(100, 5)),
            path_ + ": cache was hashed with 2 tables of 100 rows, salt 5, but rows per table 100, salt 5 is "
                    "expected (convert the TSV again with these settings)");
}

TEST_F(MultiHotCacheTest, CorruptSchemaSectionAndListsAreRefused) {
  ASSERT_EQ(bytes_.substr(kJsonAt, 12), "{\"columns\":[");
  std::string section = bytes_;
  section[kJsonAt + 20] ^= 0x01;
  const std::string s = variant("section.cache", section);
  EXPECT_EQ(open_error(s, hashing_), s + ": corrupted cache header (checksum mismatch in the schema section)");
  EXPECT_THROW(read_cache_schema(s), Error);
  // A resealed section whose JSON is not a schema: named as the stored schema.
  std::string json = bytes_;
  json[kJsonAt] = '[';
  uint32_t section_bytes = 0;
  std::memcpy(&section_bytes, json.data() + 280 + 44, 4);
  const uint64_t section_sum = checksum64(json.data() + 512, section_bytes);
  std::memcpy(json.data() + 280 + 48, &section_sum, 8);
  const uint64_t ext_sum = checksum64(json.data() + 280, 56);
  std::memcpy(json.data() + 280 + 56, &ext_sum, 8);
  const std::string j = variant("json.cache", json);
  EXPECT_NE(open_error(j, hashing_).find(j + ": stored schema"), std::string::npos) << open_error(j, hashing_);
  // The extension itself.
  std::string ext = bytes_;
  ext[282] ^= 0x01;  // the numeric width
  const std::string e = variant("ext.cache", ext);
  EXPECT_EQ(open_error(e, hashing_), e + ": corrupted cache header (checksum mismatch)");
  // A list id changed: the ids' checksum.
  std::string ids = bytes_;
  ids[ids.size() - 4096 + 5] ^= 0x01;
  const std::string i = variant("ids.cache", ids);
  EXPECT_EQ(open_error(i, hashing_), i + ": checksum mismatch in column 'list ids': the cache is corrupted");
  const std::string cut = variant("cut.cache", bytes_.substr(0, bytes_.size() - 4096));
  EXPECT_NE(open_error(cut, hashing_).find(cut + ": truncated cache: "), std::string::npos) << open_error(cut, hashing_);
}

TEST_F(MultiHotCacheTest, WriteRefusesRowsOfOtherWidthsAndBadLists) {
  const DataBlock criteo(4);
  try {
    write_cache(dir_.file("w.cache"), criteo.view(), hashing_, {}, schema_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), dir_.file("w.cache") + ": data to cache: rows of 13 numeric, 26 categorical and "
                                                           "0 multi-hot features do not have the schema's widths (1, 1, 1)");
  }
  DataBlock bad = multi_hot_block(10);
  bad.bag_ids()[bad.bag_offsets()[3]] = 0;  // row 0 of a table never appears in a list
  try {
    write_cache(dir_.file("b.cache"), bad.view(), hashing_, {}, schema_);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              dir_.file("b.cache") + ": data to cache: row 3: multi-hot tags id 0 is out of range (rows 1 to 99)");
  }
  DataBlock inf = multi_hot_block(10);
  inf.numeric()[2] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(write_cache(dir_.file("i.cache"), inf.view(), hashing_, {}, schema_), Error);
  EXPECT_THROW(CacheWriter(dir_.file("h.cache"), HashingConfig::uniform(100, 5), schema_), Error);
  EXPECT_FALSE(std::filesystem::exists(dir_.file("w.cache")));
}

}  // namespace
}  // namespace shadowsync
