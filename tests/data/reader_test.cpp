// Tests of the Criteo reader (criteo_reader.hpp): parsed values against the naive reference,
// missing and ragged fields, CRLF, a last line without newline (complete or cut), compressed /
// binary / CSV input, mostly bad lines, FIFOs, every bad-line kind with its
// line number and reason, the report, strict mode, and line numbers / row order across many
// parallel chunks.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "data/line_parser.hpp"
#include "data/segment_parser.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/feature_transform.hpp"
#include "shadowsync/core/error.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::format_line;
using test::pattern_line;
using test::RawLine;
using test::reference_row;

const HashingConfig kHashing = HashingConfig::uniform(1000, 5);

ParseOptions options(bool strict = false, size_t chunk_bytes = size_t{2} << 20) {
  ParseOptions o;
  o.hashing = kHashing;
  o.strict = strict;
  o.chunk_bytes = chunk_bytes;
  return o;
}

void expect_row(const DataView& view, size_t i, const RawLine& raw) {
  const test::RefRow ref = reference_row(raw, kHashing);
  ASSERT_LT(i, view.rows);
  EXPECT_EQ(view.labels[i], ref.label) << "row " << i;
  for (int j = 0; j < kNumNumeric; ++j) {
    EXPECT_FLOAT_EQ(view.numeric[i * kNumNumeric + j], ref.numeric[j]) << "row " << i << " I" << j + 1;
  }
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(view.sparse[i * kNumSparse + t], ref.sparse[t]) << "row " << i << " C" << t + 1;
  }
}

std::string error_of(const std::string& text, const ParseOptions& o,
                     const std::string& name = "in.tsv") {
  try {
    parse_criteo_text(text, name, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CriteoReader, FullLinesMatchReference) {
  std::string text;
  std::vector<RawLine> raws;
  for (uint64_t i = 0; i < 50; ++i) {
    raws.push_back(pattern_line(i));
    text += format_line(raws.back()) + "\n";
  }
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "in.tsv", options(), &report);
  ASSERT_EQ(block.rows(), 50u);
  for (size_t i = 0; i < raws.size(); ++i) expect_row(block.view(), i, raws[i]);
  EXPECT_EQ(report.file, "in.tsv");
  EXPECT_EQ(report.lines, 50u);
  EXPECT_EQ(report.rows, 50u);
  EXPECT_EQ(report.bad_lines, 0u);
  EXPECT_EQ(report.bytes, text.size());
  EXPECT_TRUE(report.first_errors.empty());
  for (int j = 0; j < kNumNumeric; ++j) {
    uint64_t missing = 0;
    for (const RawLine& r : raws) missing += !r.numeric[j].has_value();
    EXPECT_EQ(report.numeric_missing[j], missing) << "I" << j + 1;
  }
}

TEST(CriteoReader, HandWrittenLineValues) {
  // label 1; I1 = 0, I2 missing, I3 = -7, I4 = 1, I5 = 1000000, rest missing; C1 = 68fd1e64,
  // C2 missing, C3 = 0 written as "0", C4 = upper-case 68FD1E64, rest missing.
  const std::string line = test::pad_fields("1\t0\t\t-7\t1\t1000000\t\t\t\t\t\t\t\t\t68fd1e64\t\t0\t68FD1E64");
  ParseReport report;
  const DataBlock block = parse_criteo_text(line + "\n", "x", options(), &report);
  ASSERT_EQ(block.rows(), 1u);
  const DataView v = block.view();
  EXPECT_EQ(v.labels[0], 1.0f);
  const float expected_numeric[kNumNumeric] = {0, 0, 0, std::log(2.0f), std::log(1000001.0f)};
  for (int j = 0; j < kNumNumeric; ++j) EXPECT_FLOAT_EQ(v.numeric[j], expected_numeric[j]) << j;
  EXPECT_EQ(v.sparse[0], test::ref_row(0x68fd1e64u, 0, kHashing));
  EXPECT_EQ(v.sparse[1], 0u);
  EXPECT_EQ(v.sparse[2], test::ref_row(0u, 2, kHashing));
  EXPECT_EQ(v.sparse[3], test::ref_row(0x68fd1e64u, 3, kHashing));
  for (int t = 4; t < kNumSparse; ++t) EXPECT_EQ(v.sparse[t], 0u) << t;
  // Missing: I2 and I6..I13; present zeros and negatives are not missing.
  const uint64_t expected_missing[kNumNumeric] = {0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  for (int j = 0; j < kNumNumeric; ++j) EXPECT_EQ(report.numeric_missing[j], expected_missing[j]);
}

// Every line must have the schema's 40 fields: short lines (a label-only line, 4 fields, the 37
// and 38 field lines of a real sample) and long ones are bad lines naming both counts, an Error
// under strict; padded with empty fields they are rows with missing values.
TEST(CriteoReader, LinesWithAnotherFieldCountAreBad) {
  RawLine three_ints{0, {5, std::nullopt, 9}, {}};
  RawLine thirty_eight = pattern_line(3);
  thirty_eight.sparse.resize(24);
  RawLine thirty_seven = pattern_line(4);
  thirty_seven.sparse.resize(23);
  const std::vector<std::string> bad = {"1", format_line(three_ints), format_line(thirty_eight),
                                        format_line(thirty_seven), format_line(pattern_line(5)) + "\t",
                                        "1\t2\t"};
  const std::vector<int> fields = {1, 4, 38, 37, 41, 3};
  std::string text = format_line(pattern_line(1)) + "\n";
  for (const std::string& line : bad) text += line + "\n";
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "x", options(), &report);
  ASSERT_EQ(block.rows(), 1u);
  expect_row(block.view(), 0, pattern_line(1));
  EXPECT_EQ(report.bad_lines, bad.size());
  ASSERT_EQ(report.first_errors.size(), bad.size());
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(report.first_errors[i], "x:" + std::to_string(i + 2) + ": wrong number of fields: " +
                                          std::to_string(fields[i]) + ", the schema has 40");
  }
  EXPECT_EQ(error_of(text, options(true), "x"), "x:2: wrong number of fields: 1, the schema has 40");
  // Padded to 40 fields: rows whose absent fields are missing values.
  std::string padded;
  for (const RawLine& r : {three_ints, thirty_eight}) padded += test::pad_fields(format_line(r)) + "\n";
  const DataBlock rows = parse_criteo_text(padded, "x", options(true));
  ASSERT_EQ(rows.rows(), 2u);
  expect_row(rows.view(), 0, three_ints);
  expect_row(rows.view(), 1, thirty_eight);
}

TEST(CriteoReader, CrlfAndMissingFinalNewline) {
  const RawLine a = pattern_line(1), b = pattern_line(2), c = pattern_line(3);
  const std::string text = format_line(a) + "\r\n" + format_line(b) + "\n" + format_line(c);
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "x", options(), &report);
  ASSERT_EQ(block.rows(), 3u);
  EXPECT_EQ(report.lines, 3u);
  expect_row(block.view(), 0, a);
  expect_row(block.view(), 1, b);
  expect_row(block.view(), 2, c);
  // A final complete CRLF line without newline, and a label-only CRLF line.
  const DataBlock d = parse_criteo_text(test::pad_fields("0") + "\r\n" + format_line(c) + "\r", "x", options());
  ASSERT_EQ(d.rows(), 2u);
  expect_row(d.view(), 0, RawLine{0, {}, {}});
  expect_row(d.view(), 1, c);
}

// A file cut in the middle of its last line: the short unterminated line is a bad line (the
// field cut from '41' must not become a row with I1 = 4), an error in strict mode; a complete
// row without its newline stays valid.
TEST(CriteoReader, IncompleteLastLineIsABadLine) {
  const std::string good = format_line(pattern_line(1));
  const std::string cut = "0\t4";  // was "0\t41\t..."
  for (const size_t chunk : {size_t{1}, size_t{2} << 20}) {
    ParseReport report;
    const DataBlock block = parse_criteo_text(good + "\n" + cut, "cut.tsv", options(false, chunk), &report);
    ASSERT_EQ(block.rows(), 1u);
    expect_row(block.view(), 0, pattern_line(1));
    EXPECT_EQ(report.lines, 2u);
    EXPECT_EQ(report.bad_lines, 1u);
    ASSERT_EQ(report.first_errors.size(), 1u);
    EXPECT_EQ(report.first_errors[0], "cut.tsv:2: last line has no newline and is incomplete (2 fields): the input ends in the middle of a row");
    EXPECT_EQ(error_of(good + "\n" + cut + "\r", options(true, chunk), "cut.tsv"),
              "cut.tsv:2: last line has no newline and is incomplete (2 fields): the input ends in the middle of a row");
  }
  // 39 fields without newline: still incomplete; 40 fields: a valid row.
  std::string thirty_nine = good.substr(0, good.rfind('\t'));
  EXPECT_EQ(error_of(good + "\n" + thirty_nine, options(true)),
            "in.tsv:2: last line has no newline and is incomplete (39 fields): the input ends in the middle of a row");
  EXPECT_EQ(parse_criteo_text(good + "\n" + good, "x", options(true)).rows(), 2u);
  // The same short line with its newline is a bad line too (of another field count).
  EXPECT_EQ(error_of(good + "\n" + cut + "\n", options(true), "x"),
            "x:2: wrong number of fields: 2, the schema has 40");
}

// Rows and lines: every reader ignores the empty lines at the end of a file (a file ending
// "\n\n" gives the rows of the file ending "\n", strict mode too), skips a UTF-8 byte order mark
// (and still sees the header behind it), and keeps an empty line followed by data a bad line.
TEST(CriteoReader, TrailingEmptyLinesAndByteOrderMark) {
  const std::string a = format_line(pattern_line(1)), b = format_line(pattern_line(2));
  for (const size_t chunk : {size_t{1}, size_t{2} << 20}) {
    for (const std::string& end : {std::string("\n"), std::string("\r\n"), std::string("\n\n\r\n\n")}) {
      ParseReport report;
      const DataBlock block = parse_criteo_text(a + "\n" + b + "\n" + end, "e.tsv", options(true, chunk), &report);
      ASSERT_EQ(block.rows(), 2u);
      expect_row(block.view(), 1, pattern_line(2));
      EXPECT_EQ(report.lines, 2u);
      EXPECT_EQ(report.bad_lines, 0u);
    }
    EXPECT_EQ(error_of(a + "\n\n" + b + "\n\n", options(true, chunk)), "in.tsv:2: empty line");
    EXPECT_EQ(error_of("\n\n", options(false, chunk)), "in.tsv: no data line (only empty lines)");
    // A byte order mark: skipped, row 1 kept, the header behind it seen.
    ParseReport report;
    const DataBlock bom = parse_criteo_text("\xEF\xBB\xBF" + a + "\n" + b + "\n", "bom.tsv", options(true, chunk), &report);
    ASSERT_EQ(bom.rows(), 2u);
    expect_row(bom.view(), 0, pattern_line(1));
    const DataBlock header = parse_criteo_text("\xEF\xBB\xBFlabel\tI1\n" + a + "\n", "h.tsv", options(true, chunk), &report);
    EXPECT_EQ(header.rows(), 1u);
    EXPECT_TRUE(report.header);
    EXPECT_EQ(report.lines, 2u);
  }
}

// A cut-off last row: an unterminated last line of 40 fields whose C26 has fewer than the 8 hex
// digits of a Criteo id is a bad line and a warning ("the input ends in the middle of a row");
// 8 digits or an empty C26 is a complete row.
TEST(CriteoReader, LastRowCutInsideItsLastIdIsABadLineAndAWarning) {
  RawLine raw = pattern_line(4);
  raw.sparse[25] = 0x1234abcdu;
  const std::string good = format_line(pattern_line(1));
  const std::string whole = format_line(raw);
  const std::string cut = whole.substr(0, whole.size() - 4);  // C26 '1234'
  for (const size_t chunk : {size_t{1}, size_t{2} << 20}) {
    ParseReport report;
    const DataBlock block = parse_criteo_text(good + "\n" + cut, "cut.tsv", options(false, chunk), &report);
    EXPECT_EQ(block.rows(), 1u);
    EXPECT_EQ(report.bad_lines, 1u);
    ASSERT_EQ(report.first_errors.size(), 1u);
    EXPECT_EQ(report.first_errors[0],
              "cut.tsv:2: last line has no newline and is incomplete: C26 (field 40) '1234' has 4 "
              "hex digits, Criteo ids have 8: the input ends in the middle of a row");
    ASSERT_EQ(report.warnings.size(), 1u);
    EXPECT_EQ(report.warnings[0], "cut.tsv: the input ends in the middle of a row (line 2 has no "
                                  "newline and is incomplete): was it cut off?");
    EXPECT_NE(report.summary().find("\n  warning: cut.tsv: the input ends in the middle of a row"),
              std::string::npos);
    EXPECT_NE(error_of(good + "\n" + cut, options(true, chunk)).find("C26 (field 40) '1234' has 4 hex digits"),
              std::string::npos);
    // Complete: 8 digits, or C26 empty; and a short id with its newline is a valid row.
    EXPECT_EQ(parse_criteo_text(good + "\n" + whole, "x", options(true, chunk), &report).rows(), 2u);
    EXPECT_TRUE(report.warnings.empty());
    EXPECT_EQ(parse_criteo_text(good + "\n" + whole.substr(0, whole.size() - 8), "x", options(true, chunk)).rows(), 2u);
    EXPECT_EQ(parse_criteo_text(good + "\n" + cut + "\n", "x", options(true, chunk)).rows(), 2u);
  }
}

// A label-less file (Criteo's test files: 39 fields) fails with a hint that the label is missing.
TEST(CriteoReader, ThirtyNineFieldsPerLineHintsAtAMissingLabel) {
  std::string text;
  for (uint64_t i = 0; i < 300; ++i) {
    const std::string line = format_line(pattern_line(i));
    text += line.substr(line.find('\t') + 1) + "\n";  // the label column dropped
  }
  const std::string hint = "; t.tsv has 39 fields per line: Criteo's layout is a label then 13 numeric "
                           "and 26 categorical fields; is the label column missing?";
  const std::string lenient = error_of(text, options(false), "t.tsv");
  EXPECT_NE(lenient.find("lines are bad"), std::string::npos) << lenient;
  EXPECT_TRUE(lenient.ends_with(hint)) << lenient;
  const std::string strict = error_of(text, options(true), "t.tsv");
  EXPECT_TRUE(strict.starts_with("t.tsv:")) << strict;
  EXPECT_TRUE(strict.ends_with(hint)) << strict;
  // A Criteo file with 40 fields gets no hint.
  EXPECT_EQ(error_of(format_line(pattern_line(1)) + "\n2\n", options(true)), "in.tsv:2: label '2' is not 0 or 1");
}

// keep_bad_lines: one row per line, bad lines as placeholder rows listed in bad_rows, by every
// chunking; strict mode ignores it.
TEST(CriteoReader, KeepBadLinesKeepsOneRowPerLine) {
  std::string text = "label\tI1\n";
  for (uint64_t i = 0; i < 40; ++i) {
    text += (i % 7 == 3 ? std::string("2\tbad") : i == 20 ? std::string() : format_line(pattern_line(i))) + "\n";
  }
  text += "\n\n";  // trailing empty lines: not rows
  ParseOptions o = options(false, 1);
  o.keep_bad_lines = true;
  for (const size_t chunk : {size_t{1}, size_t{300}, size_t{2} << 20}) {
    o.chunk_bytes = chunk;
    ParseReport report;
    const DataBlock block = parse_criteo_text(text, "k.tsv", o, &report);
    ASSERT_EQ(block.rows(), 40u);
    EXPECT_EQ(report.rows, 40u);
    EXPECT_EQ(report.bad_lines, 7u);
    EXPECT_TRUE(report.bad_lines_kept);
    EXPECT_EQ(report.bad_rows, (std::vector<uint64_t>{3, 10, 17, 20, 24, 31, 38}));
    for (uint64_t i = 0; i < 40; ++i) {
      if (i % 7 == 3 || i == 20) {
        EXPECT_EQ(block.view().labels[i], 0.0f);
        EXPECT_EQ(block.view().sparse[i * kNumSparse + 25], kMissingRow);
      } else {
        expect_row(block.view(), i, pattern_line(i));
      }
    }
    EXPECT_NE(report.summary().find("7 bad lines kept as placeholder rows"), std::string::npos);
  }
  o.strict = true;
  EXPECT_EQ(error_of(text, o, "k.tsv"), "k.tsv:5: label '2' is not 0 or 1");
}

// Input that is not Criteo TSV text is refused before parsing, with what it is and what to do.
TEST(CriteoReader, CompressedBinaryAndCsvInputIsRefused) {
  const std::string tail = "\x01\x02\n" + format_line(pattern_line(1)) + "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\x1f\x8b\x08" + tail,
       "x.tsv.gz: gzip-compressed data; decompress it first (e.g. zcat x.tsv.gz > x.tsv)"},
      {"\x28\xb5\x2f\xfd" + tail, "x.tsv.gz: zstd-compressed data; decompress it first"},
      {"BZh9" + tail, "x.tsv.gz: bzip2-compressed data; decompress it first (e.g. bzcat"},
      {std::string("\xfd\x37\x7a\x58\x5a\x00", 6) + tail, "x.tsv.gz: xz-compressed data"},
      {"PK\x03\x04" + tail, "x.tsv.gz: a zip archive; extract the TSV first"},
      {"SSYNCDAT" + tail, "x.tsv.gz: a shadowsync binary cache, not Criteo TSV text"},
      {std::string("\x7f" "ELF\x02\x01\x01\x00", 8) + tail,
       "x.tsv.gz: binary data (NUL byte at offset 7 of the first line)"},
      {"0,1,1,5,0,1382,4,15\n" + format_line(pattern_line(1)) + "\n",
       "x.tsv.gz: looks comma-separated (CSV): line 1 has 7 commas and no tab; read it with "
       "delimiter ',' or convert it first (e.g. tr ',' '\\t' < x.tsv.gz > x.tsv.gz.tsv)"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(error_of(text, options(), "x.tsv.gz").rfind(expected, 0), 0u)
        << error_of(text, options(), "x.tsv.gz");
  }
  EXPECT_EQ(error_of("\x1f\x8b", options(), "x.gz"),
            "x.gz: gzip-compressed data; decompress it first (e.g. zcat x.gz > x.tsv)");
}

// Mostly bad lines (a binary file with a few parseable lines): an error, not a tiny cache.
TEST(CriteoReader, MostlyBadLinesAreAnError) {
  std::string text;
  for (int i = 0; i < 10; ++i) text += format_line(pattern_line(i)) + "\n";
  for (int i = 0; i < 150; ++i) text += "\xa3\x17garbage\n";
  const std::string message = error_of(text, options(false, 256), "junk.tsv");
  EXPECT_EQ(message.rfind("junk.tsv: 150 of 160 lines are bad (first: junk.tsv:11: label "
                          "'\\xa3\\x17garbage' is not 0 or 1); this does not look like Criteo TSV",
                          0),
            0u)
      << message;
  // Half bad, or fewer than kMinBadLinesToRefuse bad lines: skipped and reported as before.
  std::string half;
  for (int i = 0; i < 150; ++i) half += format_line(pattern_line(i)) + "\n7\n";
  ParseReport report;
  EXPECT_EQ(parse_criteo_text(half, "x", options(), &report).rows(), 150u);
  EXPECT_EQ(report.bad_lines, 150u);
  std::string few = format_line(pattern_line(1)) + "\n";
  for (int i = 0; i < 99; ++i) few += "7\n";
  EXPECT_EQ(parse_criteo_text(few, "x", options(), &report).rows(), 1u);
  EXPECT_EQ(report.bad_lines, 99u);
}

// parse_criteo_buffer with any chunk size gives what one chunk gives (the differential
// contract the fuzzer checks), here on a mix of good, ragged and bad lines.
TEST(CriteoReader, ParseBufferChunkSizesAgree) {
  std::string text;
  for (int i = 0; i < 60; ++i) {
    text += format_line(pattern_line(static_cast<uint64_t>(i)));
    text += i % 7 == 3 ? "\n1\tx\n" : (i % 5 == 0 ? "\r\n0\t3\n" : "\n");
  }
  text += "1\t2";  // incomplete last line
  ParseReport one_report;
  const DataBlock one = parse_criteo_buffer(text, "d", options(), text.size(), &one_report);
  for (const size_t chunk : {size_t{1}, size_t{7}, size_t{300}, size_t{5000}}) {
    ParseReport report;
    const DataBlock block = parse_criteo_buffer(text, "d", options(), chunk, &report);
    ASSERT_EQ(block.rows(), one.rows()) << chunk;
    EXPECT_EQ(std::memcmp(block.labels(), one.labels(), one.rows() * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(block.numeric(), one.numeric(), one.rows() * kNumNumeric * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(block.sparse(), one.sparse(), one.rows() * kNumSparse * 4), 0);
    EXPECT_EQ(report.lines, one_report.lines);
    EXPECT_EQ(report.bad_lines, one_report.bad_lines);
    EXPECT_EQ(report.first_errors, one_report.first_errors);
    EXPECT_EQ(report.numeric_missing, one_report.numeric_missing);
  }
  EXPECT_EQ(one_report.bad_lines, 20u);  // 9 "1\tx", 10 "0\t3" (2 fields), the cut last line
  EXPECT_THROW(parse_criteo_buffer(text, "d", options(), 0), Error);
}

TEST(CriteoReader, IntegerLimits) {
  const std::string text =
      test::pad_fields("1\t9223372036854775807\t-9223372036854775808\t00000000000000000000000042\t-0") + "\n";
  const DataBlock block = parse_criteo_text(text, "x", options());
  ASSERT_EQ(block.rows(), 1u);
  EXPECT_FLOAT_EQ(block.numeric()[0], 43.668272375276554f);
  EXPECT_EQ(block.numeric()[1], 0.0f);
  EXPECT_FLOAT_EQ(block.numeric()[2], std::log(43.0f));
  EXPECT_EQ(block.numeric()[3], 0.0f);
}

struct BadCase {
  std::string line;
  std::string reason;  // expected substring of the reason
};

std::vector<BadCase> bad_cases() {
  const std::string good_rest = format_line(pattern_line(7)).substr(1);  // "\t..." after label
  std::string nul_line = format_line(pattern_line(8));
  nul_line[10] = '\0';
  std::string forty_one = format_line(pattern_line(9)) + "\tab";
  return {
      {"", "empty line"},
      {"\r", "empty line"},
      {"2" + good_rest, "label '2' is not 0 or 1"},
      {"" + good_rest, "label '' is not 0 or 1"},
      {"01" + good_rest, "label '01' is not 0 or 1"},
      {"x", "label 'x' is not 0 or 1"},
      {"1\tabc", "I1 (field 2): 'abc' is not an integer"},
      {"1\t1\t1.5", "I2 (field 3): '1.5' is not an integer"},
      {"1\t--1", "I1 (field 2): '--1' is not an integer"},
      {"1\t-", "I1 (field 2): '-' is not an integer"},
      {"1\t+1", "I1 (field 2): '+1' is not an integer"},
      {"1\t 1", "I1 (field 2): ' 1' is not an integer"},
      {"1\t9223372036854775808", "I1 (field 2): '9223372036854775808' does not fit in a 64-bit"},
      {"1\t-9223372036854775809", "'-9223372036854775809' does not fit in a 64-bit"},
      {"1\t99999999999999999999999", "does not fit in a 64-bit signed integer"},
      {"1" + std::string(13, '\t') + "\tzz", "C1 (field 15): 'zz' is not a hexadecimal value"},
      {"1" + std::string(13, '\t') + "\t0x12", "C1 (field 15): '0x12' is not a hexadecimal"},
      {"1" + std::string(13, '\t') + "\t\t\t-1", "C3 (field 17): '-1' is not a hexadecimal"},
      {"1" + std::string(13, '\t') + "\t123456789", "C1 (field 15): '123456789' has 9 hex digits"},
      {"1" + std::string(38, '\t') + "\t000000001",
       "C26 (field 40): '000000001' has 9 hex digits"},
      {forty_one, "wrong number of fields: 41, the schema has 40"},
      {"1" + std::string(40, '\t'), "wrong number of fields: 41, the schema has 40"},
      {"1", "wrong number of fields: 1, the schema has 40"},
      {"0\t\t\t", "wrong number of fields: 4, the schema has 40"},
      {nul_line, "NUL byte at column 11"},
      {std::string("1\t5\0", 4), "NUL byte at column 4"},
      {"1\t" + std::string(kMaxLineBytes - 1, '0'), "line of 65537 bytes is longer than the limit"},
  };
}

TEST(CriteoReader, EveryBadLineKindIsSkippedAndReported) {
  const std::vector<BadCase> cases = bad_cases();
  for (const BadCase& c : cases) {
    // good, bad, good: the bad one is line 2.
    const RawLine good = pattern_line(1);
    const std::string text = format_line(good) + "\n" + c.line + "\n" + format_line(good) + "\n";
    ParseReport report;
    const DataBlock block = parse_criteo_text(text, "in.tsv", options(), &report);
    SCOPED_TRACE(c.reason);
    EXPECT_EQ(block.rows(), 2u);
    EXPECT_EQ(report.lines, 3u);
    EXPECT_EQ(report.bad_lines, 1u);
    ASSERT_EQ(report.first_errors.size(), 1u);
    EXPECT_EQ(report.first_errors[0].rfind("in.tsv:2: ", 0), 0u) << report.first_errors[0];
    EXPECT_NE(report.first_errors[0].find(c.reason), std::string::npos) << report.first_errors[0];
    expect_row(block.view(), 0, good);
    expect_row(block.view(), 1, good);
    // Strict: the same line is an Error with the same message.
    EXPECT_EQ(error_of(text, options(true)), report.first_errors[0]);
  }
}

TEST(CriteoReader, LongestAllowedLineIsAccepted) {
  // Leading zeros make a valid line of exactly kMaxLineBytes bytes: "1\t000...0042" + 38 tabs.
  const std::string line = "1\t" + std::string(kMaxLineBytes - 4 - 38, '0') + "42" + std::string(38, '\t');
  ASSERT_EQ(line.size(), kMaxLineBytes);
  const DataBlock block = parse_criteo_text(line + "\r\n", "x", options(true));
  ASSERT_EQ(block.rows(), 1u);
  EXPECT_FLOAT_EQ(block.numeric()[0], std::log(43.0f));
}

TEST(CriteoReader, OnlyTheFirstTenErrorsAreKept) {
  std::string text;
  for (int i = 1; i <= 30; ++i) text += (i % 2 == 0 ? std::string("7") : format_line(pattern_line(i))) + "\n";
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "f", options(false, 64), &report);
  EXPECT_EQ(block.rows(), 15u);
  EXPECT_EQ(report.bad_lines, 15u);
  ASSERT_EQ(report.first_errors.size(), kMaxReportedErrors);
  for (size_t k = 0; k < kMaxReportedErrors; ++k) {
    EXPECT_EQ(report.first_errors[k], "f:" + std::to_string(2 * (k + 1)) +
                                          ": label '7' is not 0 or 1");
  }
  const std::string summary = report.summary();
  EXPECT_NE(summary.find("f: 15 rows from 30 lines, 15 bad lines skipped"), std::string::npos);
  EXPECT_NE(summary.find("\n  f:20: label '7'"), std::string::npos) << summary;
  EXPECT_NE(summary.find("... and 5 more bad lines"), std::string::npos) << summary;
}

TEST(CriteoReader, EmptyTextAndAllBadLinesAreErrors) {
  EXPECT_EQ(error_of("", options()), "in.tsv: empty file (no lines)");
  EXPECT_EQ(error_of("\n", options()), "in.tsv: no data line (only empty lines)");
  EXPECT_EQ(error_of("\n2\n", options()),
            "in.tsv: no valid line: all 2 lines are bad (first: in.tsv:1: empty line)");
  EXPECT_EQ(error_of("a\nb\n2\t1\n", options()),
            "in.tsv: no valid line: all 3 lines are bad (first: in.tsv:1: label 'a' is not 0 or 1)");
  ParseOptions zero_chunk = options();
  zero_chunk.chunk_bytes = 0;
  EXPECT_NE(error_of("1\n", zero_chunk).find("chunk_bytes"), std::string::npos);
  ParseOptions bad_hashing = options();
  bad_hashing.hashing.rows[0] = 1;
  EXPECT_NE(error_of("1\n", bad_hashing).find("in.tsv: hashing config: table C1 has 1 rows"),
            std::string::npos);
}

// Many lines, tiny chunks: rows keep file order and line numbers stay global.
class ChunkedParse : public ::testing::TestWithParam<size_t> {};

TEST_P(ChunkedParse, LineNumbersAndRowOrderAcrossChunks) {
  const size_t chunk_bytes = GetParam();
  const int kLines = 3000;
  const std::vector<int> bad_lines = {2, 777, 778, 1500, 2999, 3000};  // 1-based
  std::string text;
  std::vector<RawLine> good;
  for (int line = 1; line <= kLines; ++line) {
    if (std::find(bad_lines.begin(), bad_lines.end(), line) != bad_lines.end()) {
      text += "1\tnot-a-number\n";
    } else {
      good.push_back(pattern_line(static_cast<uint64_t>(line)));
      text += format_line(good.back()) + (line % 7 == 0 ? "\r\n" : "\n");
    }
  }
  text.pop_back();  // last line without newline
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "big.tsv", options(false, chunk_bytes), &report);
  EXPECT_EQ(report.lines, static_cast<uint64_t>(kLines));
  EXPECT_EQ(report.bad_lines, bad_lines.size());
  ASSERT_EQ(block.rows(), good.size());
  ASSERT_EQ(report.first_errors.size(), bad_lines.size());
  for (size_t k = 0; k < bad_lines.size(); ++k) {
    EXPECT_EQ(report.first_errors[k], "big.tsv:" + std::to_string(bad_lines[k]) +
                                          ": I1 (field 2): 'not-a-number' is not an integer");
  }
  for (size_t i = 0; i < good.size(); i += 1) expect_row(block.view(), i, good[i]);

  // Strict: the smallest bad line number wins even though later chunks also fail.
  EXPECT_EQ(error_of(text, options(true, chunk_bytes), "big.tsv"),
            "big.tsv:2: I1 (field 2): 'not-a-number' is not an integer");
  // Without line 2, the first bad line is 777, deep inside the text.
  std::string without_first = text;
  const size_t second_line = without_first.find('\n') + 1;
  const size_t third_line = without_first.find('\n', second_line) + 1;
  without_first.replace(second_line, third_line - second_line, format_line(pattern_line(2)) + "\n");
  EXPECT_EQ(error_of(without_first, options(true, chunk_bytes), "big.tsv"),
            "big.tsv:777: I1 (field 2): 'not-a-number' is not an integer");
}

INSTANTIATE_TEST_SUITE_P(ChunkSizes, ChunkedParse,
                         ::testing::Values(size_t{1}, size_t{100}, size_t{4096},
                                           size_t{64} << 10, size_t{64} << 20));

TEST(CriteoReader, FileErrorsNameTheFile) {
  test::TempDir dir;
  const auto message = [](const std::string& path) {
    try {
      parse_criteo_file(path, options());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string missing = dir.file("missing.tsv");
  EXPECT_EQ(message(missing).rfind(missing + ": cannot open: ", 0), 0u) << message(missing);
  EXPECT_EQ(message(dir.path().string()), dir.path().string() + ": is a directory, expected a file");
  // A FIFO is read as a stream (here its writer sends one good line); a character device too.
  const std::string fifo = dir.file("fifo.tsv");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string line = format_line(pattern_line(2)) + "\n";
    EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ::close(fd);
  });
  ParseReport fifo_report;
  const DataBlock from_fifo = parse_criteo_file(fifo, options(), &fifo_report);
  writer.join();
  EXPECT_EQ(from_fifo.rows(), 1u);
  EXPECT_EQ(fifo_report.file, fifo);
  // A writer that connects the moment a reader exists, writes and is gone at once: its line
  // must still arrive (the reader opens the FIFO once and keeps that descriptor). Repeated, as
  // the writer only sometimes wins the race it once lost.
  for (int attempt = 0; attempt < 50; ++attempt) {
    const std::string quick = dir.file("quick" + std::to_string(attempt) + ".tsv");
    ASSERT_EQ(::mkfifo(quick.c_str(), 0600), 0);
    std::thread quick_writer([&] {
      int fd = -1;
      while ((fd = ::open(quick.c_str(), O_WRONLY | O_NONBLOCK)) < 0 && errno == ENXIO) {
        std::this_thread::yield();  // ENXIO: no reader yet
      }
      ASSERT_GE(fd, 0);
      const std::string line = format_line(pattern_line(3)) + "\n";
      EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
      ::close(fd);
    });
    const DataBlock from_quick = parse_criteo_file(quick, options());
    quick_writer.join();
    ASSERT_EQ(from_quick.rows(), 1u) << "attempt " << attempt;
    expect_row(from_quick.view(), 0, pattern_line(3));
  }
  EXPECT_EQ(message("/dev/null"), "/dev/null: empty file (no lines)");
  const std::string empty = dir.write("empty.tsv", "");
  EXPECT_EQ(message(empty), empty + ": empty file (no lines)");
  const std::string good = dir.write("good.tsv", format_line(pattern_line(5)) + "\n");
  ParseReport report;
  const DataBlock block = parse_criteo_file(good, options(), &report);
  ASSERT_EQ(block.rows(), 1u);
  expect_row(block.view(), 0, pattern_line(5));
  EXPECT_EQ(report.file, good);
}

}  // namespace
}  // namespace shadowsync

namespace shadowsync {
namespace {

// A segment's new block has room for the lines of a whole stream buffer (at the segment's line
// density, plus an eighth), so the next, larger buffers of a stream reuse it; without the hint it
// holds exactly the segment's lines.
TEST(SegmentParse, NewBlockHasRoomForAWholeBufferOfLines) {
  std::string text;
  for (uint64_t i = 0; i < 100; ++i) text += test::format_line(test::pattern_line(i)) + "\n";
  ParseOptions opts;
  opts.hashing = HashingConfig::uniform(1000);
  const data::RowParser parser(opts, "t");
  data::Segment exact = data::parse_segment(text, "t", parser, false, 1 << 20, 0);
  EXPECT_EQ(exact.block.rows(), 100u);
  EXPECT_FALSE(exact.block.reuse_for(101));
  data::Segment roomy = data::parse_segment(text, "t", parser, false, 1 << 20, 0, nullptr, 4 * text.size());
  EXPECT_EQ(roomy.block.rows(), 100u);
  EXPECT_EQ(roomy.block.view().sparse[99 * kNumSparse], exact.block.view().sparse[99 * kNumSparse]);
  const float* memory = roomy.block.labels();
  EXPECT_TRUE(roomy.block.reuse_for(450));  // 4 x 100 x 1.125
  EXPECT_FALSE(roomy.block.reuse_for(452));
  // The spare is reused for a later, larger segment: no new block.
  DataBlock spare = std::move(roomy.block);
  const std::string twice = text + text;
  data::Segment second = data::parse_segment(twice, "t", parser, false, 1 << 20, 0, &spare, 4 * text.size());
  EXPECT_EQ(second.block.labels(), memory);
  EXPECT_EQ(second.block.rows(), 200u);
}

}  // namespace
}  // namespace shadowsync

// Schemas other than Criteo's: every column kind, string ids, multi-hot lists, field counts,
// headers, chunk-size invariance.
namespace shadowsync {
namespace {

const HashingConfig kSchemaHashing = HashingConfig::uniform(1000, 7, 3);

ParseOptions schema_options(OverlongLists overlong = OverlongLists::Cut, bool strict = false,
                            bool header = false) {
  ParseOptions o;
  o.schema = test::mixed_schema(overlong, header);
  o.hashing = kSchemaHashing;
  o.strict = strict;
  return o;
}

std::string schema_error(const std::string& text, const ParseOptions& o, const std::string& name = "x.tsv") {
  try {
    parse_criteo_text(text, name, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

template <class F>
std::string schema_error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<uint32_t> list_of(const DataView& v, size_t i, int m) {
  return std::vector<uint32_t>(v.bag_ids + v.bag_begin(i, m), v.bag_ids + v.bag_end(i, m));
}

TEST(SchemaReader, EveryColumnKindReadsItsValues) {
  const CategoryHasher hasher(kSchemaHashing);
  const std::string text =
      "1\t2.5\t3\tgoogle.com\ta|b|c\tanything, goes\tmyapp\n"
      "0\t-1e3\t\t\t\t\t\n"
      "1\t\t0\tgoogle.com\tb\t\tmyapp\n";
  ParseReport report;
  const DataBlock block = parse_criteo_text(text, "x.tsv", schema_options(), &report);
  const DataView v = block.view();
  ASSERT_EQ(v.rows, 3u);
  EXPECT_EQ(v.numeric_width, 2);
  EXPECT_EQ(v.sparse_width, 2);
  EXPECT_EQ(v.multi_hot, 1);
  EXPECT_EQ(v.labels[0], 1.0f);
  EXPECT_EQ(v.labels[1], 0.0f);
  EXPECT_EQ(v.numeric[0], 2.5f);                           // identity: as is
  EXPECT_EQ(v.numeric[1], static_cast<float>(std::log1p(3.0)));  // log1p
  EXPECT_EQ(v.numeric[2], -1000.0f);
  EXPECT_EQ(v.numeric[3], 0.0f);
  EXPECT_EQ(v.numeric[4], 0.0f);
  // String ids: string_id, then the usual hash of the column's table.
  EXPECT_EQ(v.sparse[0], test::ref_row(string_id("google.com"), 0, kSchemaHashing));
  EXPECT_EQ(v.sparse[1], test::ref_row(string_id("myapp"), 1, kSchemaHashing));
  EXPECT_EQ(v.sparse[2], 0u);
  EXPECT_EQ(v.sparse[3], 0u);
  EXPECT_EQ(v.sparse[4], v.sparse[0]);
  // Lists: ids hashed into table S + m = 2, in order; an empty field is an empty list.
  const std::vector<uint32_t> first = list_of(v, 0, 0);
  ASSERT_EQ(first.size(), 3u);
  uint64_t sum = 0;
  for (const uint32_t id : first) sum += id;
  EXPECT_EQ(sum, uint64_t{hasher.row(2, string_id("a"))} + hasher.row(2, string_id("b")) +
                     hasher.row(2, string_id("c")));
  EXPECT_EQ(first[1], test::ref_row(string_id("b"), 2, kSchemaHashing));
  EXPECT_TRUE(list_of(v, 1, 0).empty());
  EXPECT_EQ(list_of(v, 2, 0), std::vector<uint32_t>{first[1]});
  EXPECT_EQ(block.bag_offsets(), (std::vector<uint64_t>{0, 3, 3, 4}));
  // Missing: price in row 3, hour in row 2.
  EXPECT_EQ(report.numeric_missing, (std::vector<uint64_t>{1, 1}));
  EXPECT_EQ(report.lists_cut, 0u);
  EXPECT_EQ(report.bad_lines, 0u);
  EXPECT_NO_THROW(validate_view(v, schema_options().schema, kSchemaHashing, "x"));
}

TEST(SchemaReader, OverlongListsAreCutOrRefused) {
  const std::string text = "1\t\t\t\ta|b|c|d|e\t\t\n0\t\t\t\tx|y|z\t\t\n";
  ParseReport report;
  const DataBlock cut = parse_criteo_text(text, "x.tsv", schema_options(), &report);
  ASSERT_EQ(cut.rows(), 2u);
  const std::vector<uint32_t> kept = list_of(cut.view(), 0, 0);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2], test::ref_row(string_id("c"), 2, kSchemaHashing));
  EXPECT_EQ(list_of(cut.view(), 1, 0).size(), 3u);  // exactly max_length: not cut
  EXPECT_EQ(report.lists_cut, 1u);
  EXPECT_NE(report.summary().find("1 lists cut to their max_length"), std::string::npos);
  ParseReport refused;
  const DataBlock r = parse_criteo_text(text, "x.tsv", schema_options(OverlongLists::Refuse), &refused);
  ASSERT_EQ(r.rows(), 1u);
  EXPECT_EQ(list_of(r.view(), 0, 0).size(), 3u);
  EXPECT_EQ(refused.lists_cut, 0u);
  ASSERT_EQ(refused.first_errors.size(), 1u);
  EXPECT_EQ(refused.first_errors[0],
            "x.tsv:1: tags (field 5): list of 5 items is longer than its max_length 3");
  EXPECT_EQ(schema_error(text, schema_options(OverlongLists::Refuse, true)), refused.first_errors[0]);
}

TEST(SchemaReader, BadFieldsAreBadLines) {
  struct Case {
    std::string line, error;
  };
  const std::vector<Case> cases = {
      {"1\t\t\t\ta||b\t\t", "tags (field 5): 'a||b' has an empty item"},
      {"1\t\t\t\t|a\t\t", "tags (field 5): '|a' has an empty item"},
      {"1\t\t\t\ta|\t\t", "tags (field 5): 'a|' has an empty item"},
      {"1\tabc\t\t\t\t\t", "price (field 2): 'abc' is not a decimal number"},
      {"1\t+1\t\t\t\t\t", "price (field 2): '+1' is not a decimal number"},
      {"1\t1e400\t\t\t\t\t", "price (field 2): '1e400' is not a finite number below 1e30 in magnitude"},
      {"1\tinf\t\t\t\t\t", "price (field 2): 'inf' is not a finite number below 1e30 in magnitude"},
      {"1\tnan\t\t\t\t\t", "price (field 2): 'nan' is not a finite number below 1e30 in magnitude"},
      {"1\t1e30\t\t\t\t\t", "price (field 2): '1e30' is not a finite number below 1e30 in magnitude"},
      {"1\t\t1.5\t\t\t\t", "hour (field 3): '1.5' is not an integer"},
      {"2\t\t\t\t\t\t", "label '2' is not 0 or 1"},
      {"1", "wrong number of fields: 1, the schema has 7"},
      {"1\t\t\t", "wrong number of fields: 4, the schema has 7"},
      {"1\t\t\t\t\t\t\t", "wrong number of fields: 8, the schema has 7"},
      {std::string("1\t\t\ts\0\t\t\t", 10), "NUL byte at column 6"},
  };
  const std::string good = "1\t-0.5\t2\ts\ta|b\tz\tq";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.error);
    const std::string text = good + "\n" + c.line + "\n" + good + "\n";
    ParseReport report;
    const DataBlock block = parse_criteo_text(text, "x.tsv", schema_options(), &report);
    ASSERT_EQ(block.rows(), 2u);
    EXPECT_EQ(block.view().numeric[2], -0.5f);
    EXPECT_EQ(list_of(block.view(), 1, 0), list_of(block.view(), 0, 0));
    EXPECT_EQ(block.bag_ids().size(), 4u);  // the bad line's ids are dropped
    ASSERT_EQ(report.first_errors.size(), 1u);
    EXPECT_EQ(report.first_errors[0], "x.tsv:2: " + c.error);
    EXPECT_EQ(schema_error(text, schema_options(OverlongLists::Cut, true)), "x.tsv:2: " + c.error);
    // keep_bad_lines: a placeholder row with an empty list keeps the line's place.
    ParseOptions keep = schema_options();
    keep.keep_bad_lines = true;
    ParseReport kept_report;
    const DataBlock kept = parse_criteo_text(text, "x.tsv", keep, &kept_report);
    ASSERT_EQ(kept.rows(), 3u);
    EXPECT_EQ(kept_report.bad_rows, std::vector<uint64_t>{1});
    EXPECT_TRUE(list_of(kept.view(), 1, 0).empty());
    EXPECT_EQ(kept.view().labels[1], 0.0f);
    EXPECT_EQ(list_of(kept.view(), 2, 0).size(), 2u);
  }
  // A decimal just below 1e30 is a value.
  const DataBlock big = parse_criteo_text("1\t-9.99e29\t\t\t\t\t\n", "x", schema_options());
  EXPECT_EQ(big.view().numeric[0], -9.99e29f);
  // A list separator equal to the field delimiter is refused.
  ParseOptions same = schema_options();
  same.schema.columns[4].separator = ',';
  same.delimiter = ',';
  EXPECT_NE(schema_error("1,,,,,,\n", same).find("column 5 (tags): its list separator ','"),
            std::string::npos);
}

TEST(SchemaReader, HeaderMustNameTheSchemasColumns) {
  const std::string names = "click\tprice\thour\tsite\ttags\tnote\tapp";
  const std::string body = "1\t1\t1\ts\ta\tn\tq\n0\t\t\t\t\t\t\n";
  ParseReport report;
  const DataBlock block =
      parse_criteo_text(names + "\r\n" + body, "x.tsv", schema_options(OverlongLists::Cut, true, true), &report);
  EXPECT_EQ(block.rows(), 2u);
  EXPECT_TRUE(report.header);
  EXPECT_EQ(report.lines, 3u);
  EXPECT_EQ(schema_error(names + "\n1\n", schema_options(OverlongLists::Cut, true, true)),
            "x.tsv:2: wrong number of fields: 1, the schema has 7");  // line numbers stay the file's
  EXPECT_EQ(schema_error("click\tprice\thour\tapp\ttags\tnote\tapp\n" + body,
                         schema_options(OverlongLists::Cut, false, true)),
            "x.tsv: line 1: column 4 is 'app' in the header but 'site' in the schema");
  EXPECT_EQ(schema_error("click\tprice\thour\n" + body, schema_options(OverlongLists::Cut, false, true)),
            "x.tsv: line 1: the header has 3 columns, the schema has 7 (column 4 'site' is missing)");
  EXPECT_EQ(schema_error(names + "\textra\n" + body, schema_options(OverlongLists::Cut, false, true)),
            "x.tsv: line 1: the header has more columns than the schema's 7 (column 8 is 'extra')");
  // Data on line 1 of a file that should have a header.
  EXPECT_EQ(schema_error(body, schema_options(OverlongLists::Cut, false, true)),
            "x.tsv: line 1: column 1 is '1' in the header but 'click' in the schema");
  // Without schema.header, a header-looking line 1 of another schema is data (a bad line here).
  ParseReport no_header;
  parse_criteo_text(names + "\n" + body, "x.tsv", schema_options(), &no_header);
  EXPECT_FALSE(no_header.header);
  EXPECT_EQ(no_header.bad_lines, 1u);
  // Criteo's layout with header: its names are checked too.
  ParseOptions criteo = options();
  criteo.schema.header = true;
  std::string criteo_names = "label";
  for (int j = 1; j <= kNumNumeric; ++j) criteo_names += "\tI" + std::to_string(j);
  for (int t = 1; t <= kNumSparse; ++t) criteo_names += "\tC" + std::to_string(t);
  const std::string line = format_line(pattern_line(1)) + "\n";
  EXPECT_EQ(parse_criteo_text(criteo_names + "\n" + line, "c.tsv", criteo).rows(), 1u);
  EXPECT_EQ(schema_error(line, criteo, "c.tsv").substr(0, 22), "c.tsv: line 1: column ");
}

TEST(SchemaReader, ChunkSizesGiveTheSameRowsAndLists) {
  std::string text;
  for (uint64_t i = 0; i < 400; ++i) {
    text += i % 37 == 5 ? "1\t\t\t\ta||b\t\t" : (i % 41 == 7 ? std::string("0\t1") : test::mixed_line(i));
    text += i % 13 == 0 ? "\r\n" : "\n";
  }
  for (const bool keep : {false, true}) {
    ParseOptions o = schema_options();
    o.keep_bad_lines = keep;
    ParseReport one_report;
    const DataBlock one = parse_criteo_buffer(text, "d", o, text.size(), &one_report);
    ASSERT_GT(one.rows(), 350u);
    EXPECT_EQ(one_report.bad_lines, 21u);
    EXPECT_GT(one_report.lists_cut, 100u);
    EXPECT_GT(one.bag_ids().size(), 500u);
    EXPECT_NO_THROW(validate_view(one.view(), o.schema, o.hashing, "d"));
    for (const size_t chunk : {size_t{1}, size_t{7}, size_t{300}, size_t{5000}}) {
      SCOPED_TRACE(chunk);
      ParseReport report;
      const DataBlock block = parse_criteo_buffer(text, "d", o, chunk, &report);
      ASSERT_EQ(block.rows(), one.rows());
      EXPECT_EQ(std::memcmp(block.labels(), one.labels(), one.rows() * sizeof(float)), 0);
      EXPECT_EQ(std::memcmp(block.numeric(), one.numeric(), one.rows() * 2 * sizeof(float)), 0);
      EXPECT_EQ(std::memcmp(block.sparse(), one.sparse(), one.rows() * 2 * 4), 0);
      EXPECT_EQ(block.bag_offsets(), one.bag_offsets());
      EXPECT_EQ(block.bag_ids(), one.bag_ids());
      EXPECT_EQ(report.first_errors, one_report.first_errors);
      EXPECT_EQ(report.numeric_missing, one_report.numeric_missing);
      EXPECT_EQ(report.lists_cut, one_report.lists_cut);
      EXPECT_EQ(report.bad_rows, one_report.bad_rows);
    }
  }
}

TEST(SchemaReader, ValidateViewChecksListsAndIdentityValues) {
  const ParseOptions o = schema_options();
  DataBlock block = parse_criteo_text(test::mixed_line(1) + "\n" + test::mixed_line(2) + "\n", "x", o);
  ASSERT_EQ(block.bag_ids().size(), 3u);  // 1 and 2 items
  EXPECT_NO_THROW(validate_view(block.view(), o.schema, o.hashing, "x"));
  block.numeric()[0] = 5e29f;  // any finite identity value below 1e30 is one the parser makes
  EXPECT_NO_THROW(validate_view(block.view(), o.schema, o.hashing, "x"));
  block.numeric()[2] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(schema_error_of([&] { validate_view(block.view(), o.schema, o.hashing, "x.bin"); }),
            "x.bin: row 1: numeric price value inf is not finite or not below 1e30 in magnitude");
  block.numeric()[2] = 0.0f;
  block.bag_ids()[2] = 0;
  EXPECT_EQ(schema_error_of([&] { validate_view(block.view(), o.schema, o.hashing, "x.bin"); }),
            "x.bin: row 1: multi-hot tags id 0 is out of range (1 to 999)");
  block.bag_ids()[2] = 1000;
  EXPECT_NE(schema_error_of([&] { validate_view(block.view(), o.schema, o.hashing, "x.bin"); }).find("id 1000"),
            std::string::npos);
  block.bag_ids()[2] = 1;
  block.bag_offsets()[1] = 2;  // offsets {0, 2, 1}: row 0's list runs beyond the last offset
  block.bag_offsets()[2] = 1;
  EXPECT_EQ(schema_error_of([&] { validate_view(block.view(), o.schema, o.hashing, "x.bin"); }),
            "x.bin: row 0: multi-hot tags offsets 0..2 are decreasing or beyond the ids");
  // Every list empty: no ids at all (found by fuzz_schema_reader).
  const DataBlock empty_lists = parse_criteo_text("1\t\t\t\t\t\t\n0\t1\t\t\t\t\t\n", "x", o);
  ASSERT_TRUE(empty_lists.bag_ids().empty());
  EXPECT_NO_THROW(validate_view(empty_lists.view(), o.schema, o.hashing, "x"));
  // The Criteo overload refuses other widths instead of reading past them.
  EXPECT_THROW(validate_view(block.view(), o.hashing, "x.bin"), Error);
}

}  // namespace
}  // namespace shadowsync
