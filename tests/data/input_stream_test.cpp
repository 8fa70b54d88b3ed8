// Tests of src/data/input_stream.cpp and stream_parse.cpp: gzip and zstd streams (one and several
// members / frames, empty, corrupt or truncated at several offsets) parse row for row like the
// uncompressed text (every bad-line kind, CRLF, ragged rows, a line longer than the stream
// buffer, last line without newline), in default and strict mode; the header rule.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "data/input_stream.hpp"
#include "data/stream_parse.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/header_line.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::format_line;
using test::pattern_line;

std::string gzip(const std::string& text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// With a content checksum, as the zstd tool writes by default (without one, corrupt literals
// cannot be detected by any reader).
std::string zstd(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), text.data(), text.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

ParseOptions options(bool strict = false) {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(1000, 5);
  o.strict = strict;
  o.chunk_bytes = 4096;
  o.stream_buffer_bytes = 1;  // raised to the minimum (2 * kMaxLineBytes + 4): many buffers
  return o;
}

// ~600 KB: good rows with every bad-line kind, CRLF and ragged rows mixed in, a line longer
// than the stream buffer, and (when `cut_last`) a last line without newline that is incomplete.
std::string mixed_text(bool cut_last) {
  std::string text;
  for (uint64_t i = 0; i < 4000; ++i) {
    std::string line = format_line(pattern_line(i));
    switch (i % 97) {
      case 5: line.clear(); break;                                // empty
      case 11: line[0] = '2'; break;                              // label
      case 17: line = "1\tx"; break;                              // int syntax
      case 23: line = "0\t99999999999999999999"; break;           // int range
      case 29: line = "1" + std::string(13, '\t') + "\tzz"; break;  // hex syntax
      case 31: line = "1" + std::string(13, '\t') + "\t123456789"; break;  // hex too long
      case 37: line += std::string(3, '\t'); break;               // too many fields
      case 41: line = std::string("1\t5\0", 4); break;            // NUL byte
      case 43: line = "1\t" + std::string(70000, '7'); break;     // too long
      case 47: line += "\r"; break;                               // CRLF
      case 53: line = "0\t1\t2"; break;                           // ragged (valid)
      default: break;
    }
    if (i == 2000) line = "1\t" + std::string(400000, '9') + "\r";  // longer than a buffer
    text += line + "\n";
  }
  text += cut_last ? "1\t2\t3" : format_line(pattern_line(9));
  return text;
}

struct Parsed {
  std::string error;
  ParseReport report;
  std::vector<float> labels, numeric;
  std::vector<uint32_t> sparse;
};

Parsed keep(const DataBlock& b, const ParseReport& r) {
  Parsed p;
  p.report = r;
  const DataView v = b.view();
  p.labels.assign(v.labels, v.labels + v.rows);
  p.numeric.assign(v.numeric, v.numeric + v.rows * kNumNumeric);
  p.sparse.assign(v.sparse, v.sparse + v.rows * kNumSparse);
  return p;
}

Parsed parse_text(const std::string& text, const ParseOptions& o) {
  ParseReport r;
  try {
    const DataBlock b = parse_criteo_text(text, "x", o, &r);
    return keep(b, r);
  } catch (const Error& e) {
    return Parsed{e.what(), {}, {}, {}, {}};
  }
}

Parsed parse_stream(const std::string& bytes, const ParseOptions& o) {
  ParseReport r;
  try {
    const auto in = data::InputStream::from_memory(bytes, "x");
    const DataBlock b = data::parse_criteo_stream(*in, o, &r);
    return keep(b, r);
  } catch (const Error& e) {
    return Parsed{e.what(), {}, {}, {}, {}};
  }
}

void expect_same(const Parsed& a, const Parsed& b, const std::string& what) {
  EXPECT_EQ(a.error, b.error) << what;
  EXPECT_EQ(a.report.lines, b.report.lines) << what;
  EXPECT_EQ(a.report.rows, b.report.rows) << what;
  EXPECT_EQ(a.report.bad_lines, b.report.bad_lines) << what;
  EXPECT_EQ(a.report.header, b.report.header) << what;
  EXPECT_EQ(a.report.first_errors, b.report.first_errors) << what;
  EXPECT_EQ(a.report.numeric_missing, b.report.numeric_missing) << what;
  EXPECT_EQ(a.report.bad_rows, b.report.bad_rows) << what;
  EXPECT_EQ(a.report.warnings, b.report.warnings) << what;
  EXPECT_TRUE(a.labels == b.labels && a.numeric == b.numeric && a.sparse == b.sparse) << what;
}

TEST(InputStream, CompressedStreamsParseRowForRowLikeTheText) {
  for (const bool cut_last : {false, true}) {
    const std::string text = mixed_text(cut_last);
    for (const bool strict : {false, true}) {
      const Parsed expected = parse_text(text, options(strict));
      if (!strict) {
        ASSERT_EQ(expected.error, "");
        EXPECT_GT(expected.report.bad_lines, 300u);
        EXPECT_EQ(expected.report.first_errors.size(), kMaxReportedErrors);
      } else {
        EXPECT_EQ(expected.error, "x:6: empty line");
      }
      const std::string half1 = text.substr(0, text.size() / 3), half2 = text.substr(text.size() / 3);
      expect_same(expected, parse_stream(text, options(strict)), "plain stream");
      expect_same(expected, parse_stream(gzip(text), options(strict)), "gzip");
      expect_same(expected, parse_stream(zstd(text), options(strict)), "zstd");
      expect_same(expected, parse_stream(gzip(half1) + gzip(half2), options(strict)),
                  "multi-member gzip");
      expect_same(expected, parse_stream(zstd(half1) + zstd(half2), options(strict)),
                  "two zstd frames");
    }
  }
  // The line longer than a stream buffer is reported with its length, without its \r.
  const Parsed p = parse_stream(gzip(mixed_text(false)), options());
  bool found = false;
  for (const auto& e : parse_text(mixed_text(false), options()).report.first_errors) {
    found = found || e == "x:2001: line of 400002 bytes is longer than the limit of 65536 bytes";
  }
  EXPECT_TRUE(found || p.report.bad_lines > 0);
  EXPECT_EQ(p.report.compression, "gzip");
}

// The rules of the text's ends (trailing empty lines ignored, a byte order mark skipped, a cut
// last row reported), placeholder rows, across stream buffers: streams give what the text gives,
// also when a run of empty lines spans several buffers.
TEST(InputStream, EndsOfTheTextAndKeptBadLinesMatchTheMmapReader) {
  std::string rows;
  for (uint64_t i = 0; i < 2000; ++i) rows += format_line(pattern_line(i)) + "\n";  // ~560 KB
  const std::string empties(300000, '\n');  // longer than two stream buffers
  const std::string last = format_line(pattern_line(7));
  // 1000 empty lines across the end of the first stream buffer (131076 bytes), then rows.
  const size_t at = rows.rfind('\n', 130500) + 1;
  const std::string straddling = rows.substr(0, at) + std::string(1000, '\n') + rows.substr(at);
  struct Case {
    std::string name, text;
    uint64_t rows, bad;
  };
  const std::vector<Case> cases = {
      {"trailing empty lines", rows + empties, 2000, 0},
      {"trailing CRLF empty lines", rows + "\r\n\r\n", 2000, 0},
      {"empty lines across buffers, then rows", straddling + empties, 2000, 1000},
      {"byte order mark and header", "\xEF\xBB\xBFlabel\tI1\n" + rows, 2000, 0},
      {"cut inside C26", rows + last.substr(0, last.size() - 3), 2000, 1},
  };
  // Many empty lines then a row: bad lines (here most lines, so the file is refused).
  EXPECT_EQ(parse_text(rows + empties + last + "\n", options()).error.rfind("x: 300000 of 302001 lines are bad (first: x:2001: empty line)", 0), 0u);
  expect_same(parse_text(rows + empties + last + "\n", options()),
              parse_stream(rows + empties + last + "\n", options()), "empty lines then a row");
  for (const Case& c : cases) {
    for (const bool keep : {false, true}) {
      ParseOptions o = options();
      o.keep_bad_lines = keep;
      const Parsed expected = parse_text(c.text, o);
      ASSERT_EQ(expected.error, "") << c.name;
      EXPECT_EQ(expected.report.rows, c.rows + (keep ? c.bad : 0)) << c.name;
      EXPECT_EQ(expected.report.bad_lines, c.bad) << c.name;
      EXPECT_EQ(expected.report.bad_rows.size(), keep ? c.bad : 0) << c.name;
      expect_same(expected, parse_stream(c.text, o), c.name + ", plain stream");
      expect_same(expected, parse_stream(gzip(c.text), o), c.name + ", gzip");
      expect_same(expected, parse_stream(zstd(c.text), o), c.name + ", zstd");
    }
    expect_same(parse_text(c.text, options(true)), parse_stream(gzip(c.text), options(true)),
                c.name + ", strict");
  }
  EXPECT_EQ(parse_text(cases[2].text, options(true)).error,
            fmt::format("x:{}: empty line", std::count(straddling.begin(), straddling.begin() + at, '\n') + 1));
  EXPECT_EQ(parse_stream(cases[4].text, options()).report.warnings,
            std::vector<std::string>{"x: the input ends in the middle of a row (line 2001 has no "
                                     "newline and is incomplete): was it cut off?"});
  // Placeholder rows of every bad-line kind, the too-long lines included, in every reader.
  ParseOptions o = options();
  o.keep_bad_lines = true;
  const std::string text = mixed_text(true);
  const Parsed kept = parse_text(text, o);
  ASSERT_EQ(kept.error, "");
  EXPECT_EQ(kept.report.rows, kept.report.lines);
  EXPECT_EQ(kept.report.bad_rows.size(), kept.report.bad_lines);
  expect_same(kept, parse_stream(text, o), "mixed, plain stream");
  expect_same(kept, parse_stream(zstd(text), o), "mixed, zstd");
}

// What `pzstd` writes: a skippable frame (magic 0x184D2A50..5F, little endian) before the zstd
// frames. It is read as zstd, not refused as binary data.
TEST(InputStream, ZstdWithALeadingSkippableFrameIsRead) {
  const std::string text = mixed_text(false);
  std::string skippable = "\x5e\x2a\x4d\x18";
  skippable += std::string("\x06\x00\x00\x00", 4) + std::string("pzstd!");
  const std::string bytes = skippable + zstd(text.substr(0, 1000)) + skippable + zstd(text.substr(1000));
  EXPECT_EQ(data::detect_compression(bytes), data::Compression::kZstd);
  EXPECT_EQ(data::detect_compression(std::string("\x50\x2a\x4d\x18", 4)), data::Compression::kZstd);
  EXPECT_EQ(data::detect_compression(std::string("\x60\x2a\x4d\x18", 4)), data::Compression::kNone);
  const Parsed p = parse_stream(bytes, options());
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.report.compression, "zstd");
  expect_same(parse_text(text, options()), p, "skippable frames");
  // Decompressed text that starts with one is refused like other zstd data inside text.
  EXPECT_EQ(parse_text(bytes, options()).error.rfind("x: zstd-compressed data; decompress it first", 0), 0u);
}

TEST(InputStream, LongLineErrorMatchesTheMmapReader) {
  const std::string text = format_line(pattern_line(1)) + "\n1\t" + std::string(300000, '5') +
                           "\r\n" + format_line(pattern_line(2)) + "\n";
  const Parsed expected = parse_text(text, options(true));
  EXPECT_EQ(expected.error, "x:2: line of 300002 bytes is longer than the limit of 65536 bytes");
  expect_same(expected, parse_stream(zstd(text), options(true)), "strict");
  const Parsed lenient = parse_stream(gzip(text), options());
  EXPECT_EQ(lenient.report.rows, 2u);
  expect_same(parse_text(text, options()), lenient, "lenient");
}

TEST(InputStream, EmptyAndCsvCompressedInput) {
  EXPECT_EQ(parse_stream(gzip(""), options()).error, "x: empty file (no lines)");
  EXPECT_EQ(parse_stream(zstd(""), options()).error, "x: empty file (no lines)");
  EXPECT_EQ(parse_stream("", options()).error, "x: empty file (no lines)");
  EXPECT_EQ(parse_stream(gzip("0,1,2,3\n"), options()).error.rfind("x: looks comma-separated (CSV)", 0), 0u);
}

TEST(InputStream, TruncatedStreamNamesTheFileAndOffset) {
  const std::string text = mixed_text(false);
  const std::string gz = gzip(text), zs = zstd(text);
  for (const size_t cut : {size_t{10}, gz.size() / 3, gz.size() / 2, gz.size() - 1}) {
    EXPECT_EQ(parse_stream(gz.substr(0, cut), options()).error,
              "x: truncated gzip data: the file ends at compressed offset " + std::to_string(cut) +
                  " inside a gzip member");
  }
  for (const size_t cut : {size_t{10}, zs.size() / 3, zs.size() - 1}) {
    EXPECT_EQ(parse_stream(zs.substr(0, cut), options()).error,
              "x: truncated zstd data: the file ends at compressed offset " + std::to_string(cut) +
                  " inside a frame");
  }
}

TEST(InputStream, CorruptStreamNamesTheFileAndOffset) {
  const std::string text = mixed_text(false);
  for (const bool use_zstd : {false, true}) {
    const std::string good = use_zstd ? zstd(text) : gzip(text);
    // (Past the 10-byte gzip header: a flipped header flag byte only changes what the header holds.)
    for (const size_t at : {size_t{12}, size_t{40}, good.size() / 4, good.size() / 2, good.size() - 3}) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      const std::string error = parse_stream(bad, options()).error;
      const std::string prefix = use_zstd ? "x: corrupt zstd data at compressed offset "
                                          : "x: corrupt gzip data at compressed offset ";
      EXPECT_EQ(error.rfind(prefix, 0), 0u) << "byte " << at << ": " << error;
    }
  }
  // Garbage after a complete gzip member is not silently ignored.
  const std::string trailing = parse_stream(gzip(text) + "garbage!", options()).error;
  EXPECT_EQ(trailing.rfind("x: corrupt gzip data at compressed offset", 0), 0u) << trailing;
}

TEST(InputStream, HeaderLineIsSkippedByEveryReaderInEveryMode) {
  const std::string text = "label\tI1\tI2\n" + format_line(pattern_line(1)) + "\n1\tx\n" +
                           format_line(pattern_line(2)) + "\n";
  const Parsed lenient = parse_text(text, options());
  EXPECT_EQ(lenient.error, "");
  EXPECT_TRUE(lenient.report.header);
  EXPECT_EQ(lenient.report.rows, 2u);
  EXPECT_EQ(lenient.report.lines, 4u);
  EXPECT_EQ(lenient.report.bad_lines, 1u);
  EXPECT_EQ(lenient.report.first_errors.at(0), "x:3: I1 (field 2): 'x' is not an integer");
  EXPECT_EQ(lenient.report.summary().rfind(
                "x: 2 rows from 4 lines, 1 bad lines skipped, header line skipped\n  x:3: ", 0),
            0u);
  expect_same(lenient, parse_stream(gzip(text), options()), "gzip header");
  EXPECT_EQ(parse_text(text, options(true)).error, "x:3: I1 (field 2): 'x' is not an integer");
  expect_same(parse_text(text, options(true)), parse_stream(text, options(true)), "strict");
  EXPECT_EQ(parse_text("label\tI1\n", options()).error, "x: no data line (only a header line)");
  EXPECT_EQ(parse_stream(zstd("label\tI1"), options()).error,
            "x: no data line (only a header line)");
}

// A schema with multi-hot lists and a header: the stream of plain, gzip and zstd text (many
// buffers) gives the rows, lists and report of the mmap reader; a wrong header is the same Error.
TEST(InputStream, SchemaStreamsGiveTheRowsAndListsOfTheText) {
  ParseOptions o = options();
  o.schema = test::mixed_schema(OverlongLists::Cut, /*header=*/true);
  o.hashing = HashingConfig::uniform(1000, 7, 3);
  std::string text = "click\tprice\thour\tsite\ttags\tnote\tapp\r\n";
  for (uint64_t i = 0; i < 6000; ++i) {
    text += i % 101 == 3 ? std::string("1\t\t\t\ta||b\t\t") : test::mixed_line(i);
    text += "\n";
  }
  ParseReport text_report;
  const DataBlock expected = parse_criteo_text(text, "x", o, &text_report);
  ASSERT_GT(expected.rows(), 5000u);
  EXPECT_TRUE(text_report.header);
  EXPECT_EQ(text_report.bad_lines, 60u);
  EXPECT_GT(text_report.lists_cut, 1000u);
  for (const std::string& bytes : {text, gzip(text), zstd(text)}) {
    ParseReport report;
    const auto in = data::InputStream::from_memory(bytes, "x");
    const DataBlock got = data::parse_criteo_stream(*in, o, &report);
    ASSERT_EQ(got.rows(), expected.rows());
    EXPECT_EQ(std::memcmp(got.labels(), expected.labels(), got.rows() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(got.numeric(), expected.numeric(), got.rows() * 2 * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(got.sparse(), expected.sparse(), got.rows() * 2 * sizeof(uint32_t)), 0);
    EXPECT_EQ(got.bag_offsets(), expected.bag_offsets());
    EXPECT_EQ(got.bag_ids(), expected.bag_ids());
    EXPECT_EQ(report.first_errors, text_report.first_errors);
    EXPECT_EQ(report.numeric_missing, text_report.numeric_missing);
    EXPECT_EQ(report.lists_cut, text_report.lists_cut);
    EXPECT_TRUE(report.header);
  }
  const std::string wrong = "click\tprice\thour\tsite\ttag\tnote\tapp\n" + test::mixed_line(1) + "\n";
  const std::string message = "x: line 1: column 5 is 'tag' in the header but 'tags' in the schema";
  EXPECT_EQ(parse_text(wrong, o).error, message);
  EXPECT_EQ(parse_stream(gzip(wrong), o).error, message);
}

TEST(HeaderLine, FirstLineOfPlainAndCompressedFiles) {
  const test::TempDir dir;
  const std::string header = "click,price,site";
  const std::string text = "\xEF\xBB\xBF" + header + "\r\n1,2,a\n";
  const std::vector<std::pair<std::string, std::string>> files = {
      {"plain.csv", text}, {"x.csv.gz", gzip(text)}, {"x.csv.zst", zstd(text)}, {"one.csv", header}};
  for (const auto& [name, bytes] : files) {
    const std::string path = dir.write(name, bytes);
    EXPECT_EQ(read_first_line(path), header) << name;
  }
  EXPECT_EQ(split_header(header, ','), (std::vector<std::string>{"click", "price", "site"}));
  EXPECT_EQ(split_header("a\t\tb\t", '\t'), (std::vector<std::string>{"a", "", "b", ""}));
  const std::string empty = dir.write("empty.csv", "");
  EXPECT_THROW(read_first_line(empty), Error);
  EXPECT_THROW(read_first_line(dir.file("missing.csv")), Error);
  EXPECT_THROW(read_first_line("-"), Error);
  const std::string long_line = dir.write("long.csv", std::string(kMaxLineBytes + 10, 'a'));
  try {
    read_first_line(long_line);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), long_line + ": line 1 is longer than 65536 bytes");
  }
}

}  // namespace
}  // namespace shadowsync
