// Tests of convert_to_cache (src/data/convert.cpp) and CacheWriter: several inputs (plain, gzip,
// zstd) give the same cache as their concatenation, with per-file reports; a failing input leaves
// no cache and no temporary; caches as inputs are refused; converting a file many times larger
// than the stream buffer keeps the peak RSS bounded (measured with getrusage).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/convert.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::format_line;
using test::pattern_line;
using test::peak_rss_kb;
using test::pattern_lines;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ParseOptions options() {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(1000, 5);
  o.stream_buffer_bytes = 1;  // the minimum: many buffers per file
  return o;
}

TEST(ConvertToCache, SeveralFilesGiveTheCacheOfTheirConcatenation) {
  test::TempDir dir;
  const std::string a = pattern_lines(0, 1500), b = pattern_lines(1500, 4000), c = pattern_lines(4000, 4100);
  const std::string whole = dir.write("whole.tsv", a + b + c);
  const std::string fa = dir.write("a.tsv", a);
  dir.write("b.tsv", b);
  dir.write("c.tsv", c);
  ASSERT_EQ(std::system(fmt::format("gzip -c '{}' > '{}' && zstd -q -c '{}' > '{}'",
                                    dir.file("b.tsv"), dir.file("b.gz"), dir.file("c.tsv"),
                                    dir.file("c.zst")).c_str()),
            0);
  const ConvertReport one = convert_to_cache({whole}, dir.file("one.bin"), options());
  const ConvertReport three = convert_to_cache({fa, dir.file("b.gz"), dir.file("c.zst")},
                                               dir.file("three.bin"), options());
  EXPECT_EQ(read_file(dir.file("one.bin")), read_file(dir.file("three.bin")));
  EXPECT_EQ(one.rows, 4100u);
  EXPECT_EQ(three.rows, 4100u);
  ASSERT_EQ(three.files.size(), 3u);
  EXPECT_EQ(three.files[0].rows, 1500u);
  EXPECT_EQ(three.files[0].bad_lines, 3u);
  EXPECT_EQ(three.files[1].file, dir.file("b.gz"));
  EXPECT_EQ(three.files[1].rows, 2500u);
  EXPECT_EQ(three.files[1].bad_lines, 5u);
  EXPECT_EQ(three.files[1].compression, "gzip");
  EXPECT_EQ(three.files[1].bytes, b.size());
  EXPECT_EQ(three.files[2].compression, "zstd");
  EXPECT_EQ(three.files[2].rows, 100u);
  // A folder stands for its files in name order (a.tsv, b.gz, c.zst; hidden files skipped).
  std::filesystem::create_directory(dir.file("days"));
  for (const char* name : {"a.tsv", "b.gz", "c.zst"}) {
    std::filesystem::copy_file(dir.file(name), dir.file(std::string("days/") + name));
  }
  dir.write("days/.hidden", "junk");
  const ConvertReport folder = convert_to_cache({dir.file("days")}, dir.file("folder.bin"), options());
  EXPECT_EQ(folder.files.size(), 3u);
  EXPECT_EQ(read_file(dir.file("folder.bin")), read_file(dir.file("one.bin")));
  // Line numbers are each file's own.
  EXPECT_EQ(three.files[1].first_errors.at(0), dir.file("b.gz") + ":9: label '2' is not 0 or 1");
}

TEST(ConvertToCache, AFailingInputLeavesNothingBehind) {
  test::TempDir dir;
  const std::string good = dir.write("good.tsv", pattern_lines(0, 2000));
  const std::string gz = dir.file("cut.gz");
  dir.write("x.tsv", pattern_lines(0, 20000));
  ASSERT_EQ(std::system(fmt::format("gzip -c '{}' | head -c 40000 > '{}'", dir.file("x.tsv"), gz).c_str()), 0);
  const std::string out = dir.file("out.bin");
  try {
    convert_to_cache({good, gz}, out, options());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              gz + ": truncated gzip data: the file ends at compressed offset 40000 inside a gzip member");
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"cut.gz", "good.tsv", "x.tsv"}));
  // A cache as input is refused before anything is written.
  convert_to_cache({good}, out, options());
  try {
    convert_to_cache({good, out}, dir.file("again.bin"), options());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), out + ": already a binary cache; convert reads Criteo TSV text");
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("again.bin")));
}


// Converting ~96 MB of text (about 400 stream buffers of 256 KiB, 600k rows = 96 MB of parsed
// rows) raises the peak RSS by far less than the text or its rows: the rows go to the column
// files buffer by buffer.
TEST(ConvertToCache, PeakMemoryIsBoundedByTheBuffersNotTheFile) {
  test::TempDir dir;
  const std::string big = dir.file("big.tsv");
  test::write_pattern_file(big, 600000);
  const auto text_bytes = std::filesystem::file_size(big);
  ASSERT_GT(text_bytes, 60u << 20);
  ParseOptions o = options();
  o.stream_buffer_bytes = 256 << 10;
  const long before = peak_rss_kb();
  const ConvertReport report = convert_to_cache({big}, dir.file("big.bin"), o);
  const long grown_kb = peak_rss_kb() - before;
  EXPECT_EQ(report.rows, 600000u);
  // Bound: 2 buffers + one buffer's rows + the 1 MiB input and 4 MiB copy buffers + allocator and
  // thread slack: 24 MiB, a quarter of the text (96 MB) and of its rows (96 MB).
  EXPECT_LT(grown_kb, 24 * 1024) << "peak RSS grew by " << grown_kb << " KiB converting "
                                 << text_bytes << " bytes";
  RecordProperty("peak_rss_growth_kib", static_cast<int>(grown_kb));
}

}  // namespace
}  // namespace shadowsync
