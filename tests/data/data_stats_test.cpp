// Tests of StatsAccumulator and compute_file_stats (include/shadowsync/data/data_stats.hpp): rows
// added piece by piece give the statistics of the whole; plain, gzip and zstd text streamed, a
// cache mapped and several files together give the statistics of the rows held in memory; an
// out-of-range value is named by its row over every piece; summarizing a file many times larger
// than the stream buffer keeps the peak RSS bounded (measured with getrusage).
#include "shadowsync/data/data_stats.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/convert.hpp"
#include "shadowsync/data/dataset.hpp"
#include "test_util.hpp"

namespace shadowsync::data {
namespace {

using test::format_line;
using test::pattern_line;
using test::peak_rss_kb;
using test::pattern_lines;

ParseOptions options() {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(1000, 5);
  o.stream_buffer_bytes = 4096;  // many buffers per file
  return o;
}

// Counts exactly; sums of floats to within rounding (their order differs with the pieces).
void expect_same(const DataStats& a, const DataStats& b) {
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_DOUBLE_EQ(a.positive_rate, b.positive_rate);
  for (int j = 0; j < kNumNumeric; ++j) {
    EXPECT_NEAR(a.numeric[j].mean, b.numeric[j].mean, 1e-12 * std::max(1.0, std::abs(b.numeric[j].mean))) << j;
    EXPECT_EQ(a.numeric[j].max, b.numeric[j].max) << j;
    EXPECT_EQ(a.numeric[j].missing_share, b.numeric[j].missing_share) << j;
  }
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(a.sparse[t].distinct_rows, b.sparse[t].distinct_rows) << t;
    EXPECT_EQ(a.sparse[t].missing_share, b.sparse[t].missing_share) << t;
    EXPECT_EQ(a.sparse[t].used_share, b.sparse[t].used_share) << t;
  }
}

TEST(StatsAccumulator, PiecesGiveTheStatisticsOfTheWhole) {
  const DataBlock block = parse_criteo_text(pattern_lines(0, 5000), "x.tsv", options());
  const DataView whole = block.view();
  const DataStats expected = compute_stats(whole, options().hashing, std::nullopt);
  StatsAccumulator pieces(options().hashing);
  for (const auto& [begin, end] : std::vector<std::pair<size_t, size_t>>{{0, 1}, {1, 1}, {1, 1777}, {1777, whole.rows}}) {
    DataView piece = whole;
    piece.rows = end - begin;
    piece.labels += begin;
    piece.numeric += begin * kNumNumeric;
    piece.sparse += begin * kNumSparse;
    pieces.add(piece);
  }
  EXPECT_EQ(pieces.rows(), whole.rows);
  expect_same(pieces.finish(std::nullopt), expected);
  EXPECT_GT(expected.sparse[0].distinct_rows, 10u);
  StatsAccumulator none(options().hashing);
  EXPECT_THROW(none.finish(std::nullopt), Error);
}

TEST(StatsAccumulator, AnOutOfRangeValueIsNamedByItsRowOverEveryPiece) {
  DataBlock block = parse_criteo_text(pattern_lines(0, 40), "x.tsv", options());
  DataView view = block.view();
  StatsAccumulator acc(HashingConfig::uniform(1000));
  acc.add(view);
  std::vector<uint32_t> sparse(view.sparse, view.sparse + view.rows * kNumSparse);
  sparse[7 * kNumSparse + 4] = 1000;   // row 7, C5
  sparse[7 * kNumSparse + 9] = 5000;   // row 7, C10: C5 comes first
  sparse[12 * kNumSparse + 0] = 2000;  // a later row
  view.sparse = sparse.data();
  try {
    acc.add(view);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "data statistics: row 47: C5 value 1000 is out of range");  // 40 + 7
  }
}

TEST(StatsAccumulator, TablesOfABillionRowsCostOnlyTheirUsedPages) {
  const HashingConfig huge = HashingConfig::uniform(HashingConfig::kMaxRowsPerTable);
  ParseOptions o = options();
  o.hashing = huge;
  const DataBlock block = parse_criteo_text(pattern_lines(0, 2000), "x.tsv", o);
  StatsAccumulator acc(huge);
  acc.add(block.view());
  const DataStats stats = acc.finish(std::nullopt);
  const DataStats again = compute_stats(block.view(), huge, std::nullopt);
  expect_same(stats, again);
  EXPECT_GT(stats.sparse[0].distinct_rows, 10u);
}

TEST(FileStats, StreamedTextCachesAndSeveralFilesGiveTheStatisticsOfTheRowsInMemory) {
  test::TempDir dir;
  const std::string a = pattern_lines(0, 1500), b = pattern_lines(1500, 4000);
  dir.write("a.tsv", a);
  dir.write("b.tsv", b);
  const std::string whole = dir.write("whole.tsv", a + b);
  ASSERT_EQ(std::system(fmt::format("gzip -c '{}' > '{}' && zstd -q -c '{}' > '{}'", dir.file("b.tsv"),
                                    dir.file("b.gz"), dir.file("whole.tsv"), dir.file("whole.zst"))
                            .c_str()),
            0);
  convert_to_cache({dir.file("a.tsv")}, dir.file("a.bin"), options());
  const ParseOptions o = options();
  ParseReport in_memory_report;
  const Dataset in_memory = Dataset::open(whole, o, &in_memory_report);
  const DataStats expected = compute_stats(in_memory.view(), o.hashing, in_memory.numeric_missing());

  for (const std::vector<std::string>& files :
       {std::vector<std::string>{whole}, {dir.file("whole.zst")}, {dir.file("a.tsv"), dir.file("b.gz")},
        {dir.file("a.bin"), dir.file("b.tsv")}}) {
    SCOPED_TRACE(files.front());
    std::vector<std::string> opened;
    const FileStats got =
        compute_file_stats(files, o, [&](size_t, size_t, const std::string& path) { opened.push_back(path); });
    EXPECT_EQ(opened, files);
    expect_same(got.stats, expected);
    EXPECT_EQ(got.report.rows, in_memory_report.rows);
    EXPECT_EQ(got.files.size(), files.size());
    EXPECT_EQ(got.all_caches, false);
  }
  const FileStats cache_only = compute_file_stats({dir.file("a.bin")}, o);
  EXPECT_TRUE(cache_only.all_caches);
  EXPECT_EQ(cache_only.report.file, dir.file("a.bin"));
  EXPECT_EQ(cache_only.stats.rows, 1500u);
  // Text counts its bad lines; one file's report is its own (header, compression).
  const FileStats zst = compute_file_stats({dir.file("whole.zst")}, o);
  EXPECT_EQ(zst.report.bad_lines, in_memory_report.bad_lines);
  EXPECT_EQ(zst.report.compression, "zstd");
  // A cache with other hashing is refused naming it.
  ParseOptions other = o;
  other.hashing = HashingConfig::uniform(64);
  try {
    compute_file_stats({dir.file("b.tsv"), dir.file("a.bin")}, other);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("a.bin")), std::string::npos) << e.what();
  }
}


// Summarizing ~96 MB of text (about 400 stream buffers of 256 KiB, 600k rows = 96 MB of parsed
// rows) raises the peak RSS by far less than the text or its rows: the rows are counted buffer
// by buffer and dropped.
TEST(FileStats, PeakMemoryIsBoundedByTheBuffersNotTheFile) {
  test::TempDir dir;
  const std::string big = dir.file("big.tsv");
  test::write_pattern_file(big, 600000);
  ParseOptions o = options();
  o.stream_buffer_bytes = 256 << 10;
  const long before = peak_rss_kb();
  const FileStats stats = compute_file_stats({big}, o);
  const long grown_kb = peak_rss_kb() - before;
  EXPECT_EQ(stats.stats.rows, 600000u);
  // Bound: 2 buffers + one buffer's rows + the input buffers + the bitmaps + allocator and
  // thread slack: 24 MiB, a quarter of the text (96 MB) and of its rows (96 MB).
  EXPECT_LT(grown_kb, 24 * 1024) << "peak RSS grew by " << grown_kb << " KiB";
  RecordProperty("peak_rss_growth_kib", static_cast<int>(grown_kb));
}

// Another schema: statistics per numeric feature and per table (categorical, then multi-hot),
// named by the schema; a multi-hot table counts its empty lists as missing and every id as used.
TEST(StatsAccumulator, StatisticsPerTableOfTheSchema) {
  ParseOptions o;
  o.schema = test::mixed_schema();
  o.hashing = HashingConfig::uniform(1000, 7, 3);
  const std::string text =
      "1\t2.5\t3\tgoogle\ta|b|a\tx\tapp1\n"
      "0\t-1\t\t\t\tx\t\n"
      "1\t\t0\tgoogle\tc\tx\tapp2\n";
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "x.tsv", o, &report);
  const DataStats stats = compute_stats(block.view(), o.schema, o.hashing, report.numeric_missing);
  EXPECT_EQ(stats.numeric_names, (std::vector<std::string>{"price", "hour"}));
  EXPECT_EQ(stats.table_names, (std::vector<std::string>{"site", "app", "tags"}));
  ASSERT_EQ(stats.numeric.size(), 2u);
  ASSERT_EQ(stats.sparse.size(), 3u);
  EXPECT_DOUBLE_EQ(stats.positive_rate, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(stats.numeric[0].mean, 1.5 / 3.0);
  EXPECT_EQ(stats.numeric[0].max, 2.5f);
  EXPECT_EQ(stats.numeric[0].missing_share, 1.0 / 3.0);
  EXPECT_EQ(stats.numeric[1].missing_share, 1.0 / 3.0);
  EXPECT_EQ(stats.sparse[0].distinct_rows, 1u);  // google twice
  EXPECT_EQ(stats.sparse[0].missing_share, 1.0 / 3.0);
  EXPECT_EQ(stats.sparse[1].distinct_rows, 2u);
  EXPECT_EQ(stats.sparse[2].distinct_rows, 3u);  // a, b, c (a twice)
  EXPECT_EQ(stats.sparse[2].missing_share, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(stats.sparse[2].used_share, 3.0 / 999.0);
  // The same through compute_file_stats of a file.
  const test::TempDir dir;
  const FileStats files = compute_file_stats({dir.write("x.tsv", text)}, o);
  EXPECT_EQ(files.stats.sparse[2].distinct_rows, 3u);
  EXPECT_EQ(files.stats.numeric[0].missing_share, 1.0 / 3.0);
  // An out-of-range list id is named by its table.
  DataBlock bad = parse_criteo_text(text, "x.tsv", o);
  bad.bag_ids()[3] = 5000;
  StatsAccumulator acc(o.schema, o.hashing);
  try {
    acc.add(bad.view());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "data statistics: row 2: tags value 5000 is out of range");
  }
  // Rows of other widths than the schema's are refused.
  StatsAccumulator criteo(HashingConfig::uniform(1000));
  EXPECT_THROW(criteo.add(block.view()), Error);
}

TEST(StatsAccumulator, ASchemaWithoutTablesHasNumericStatisticsOnly) {
  ParseOptions o;
  o.schema = FeatureSchema::from_json(
      nlohmann::json::parse(R"({"columns": [{"name": "c", "kind": "label"},
                                            {"name": "x", "kind": "numeric", "transform": "identity"}]})"),
      "test");
  o.hashing = HashingConfig::uniform(1000, 0, 0);
  ParseReport report;
  const DataBlock block = parse_criteo_text("0\t.5\n1\t.7\n", "x.tsv", o, &report);
  const DataStats stats = compute_stats(block.view(), o.schema, o.hashing, report.numeric_missing);
  EXPECT_EQ(stats.rows, 2u);
  EXPECT_TRUE(stats.sparse.empty());
  ASSERT_EQ(stats.numeric.size(), 1u);
  EXPECT_FLOAT_EQ(float(stats.numeric[0].mean), 0.6f);
  EXPECT_DOUBLE_EQ(stats.positive_rate, 0.5);
}

}  // namespace
}  // namespace shadowsync::data
