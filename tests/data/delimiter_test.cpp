// Tests of ParseOptions::delimiter: a CSV text (',' between fields) gives the same rows, report
// and error messages as the same text tab-separated, read from memory (mmap path) and as a
// stream; the header rule with ','; delimiters that cannot separate fields are refused naming
// the field; a TSV read with ',' and a CSV read with the default are refused with the fix.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "data/stream_parse.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::format_line;
using test::pattern_line;

ParseOptions options(char delimiter, bool strict = false) {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(1000, 5);
  o.strict = strict;
  o.chunk_bytes = 4096;
  o.stream_buffer_bytes = 1;  // the minimum: many stream buffers
  o.delimiter = delimiter;
  return o;
}

// 3000 generated lines, with a bad integer, a bad hex value, a short line (3 fields) and an empty
// line.
std::string tsv_text() {
  std::string text;
  for (uint64_t i = 0; i < 3000; ++i) {
    std::string line = format_line(pattern_line(i));
    if (i == 17) line = "1\t5\tx\t3";
    if (i == 400) line = "0\t\t\t\t\t\t\t\t\t\t\t\t\t\tzz";
    if (i == 901) line = "1\t2\t3";
    if (i == 1500) line.clear();
    text += line + "\n";
  }
  return text;
}

std::string with_commas(std::string text) {
  std::replace(text.begin(), text.end(), '\t', ',');
  return text;
}

void expect_same_rows(const DataBlock& a, const ParseReport& ra, const DataBlock& b,
                      const ParseReport& rb, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.rows(), b.rows());
  EXPECT_EQ(std::memcmp(a.view().labels, b.view().labels, a.rows() * 4), 0);
  EXPECT_EQ(std::memcmp(a.view().numeric, b.view().numeric, a.rows() * kNumNumeric * 4), 0);
  EXPECT_EQ(std::memcmp(a.view().sparse, b.view().sparse, a.rows() * kNumSparse * 4), 0);
  EXPECT_EQ(ra.lines, rb.lines);
  EXPECT_EQ(ra.bad_lines, rb.bad_lines);
  EXPECT_EQ(ra.numeric_missing, rb.numeric_missing);
  EXPECT_EQ(ra.first_errors, rb.first_errors);
}

std::string error_of(const std::string& text, const ParseOptions& o) {
  try {
    parse_criteo_text(text, "x.csv", o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Delimiter, CsvGivesTheRowsReportAndErrorsOfTheSameTsv) {
  const std::string tsv = tsv_text();
  const std::string csv = with_commas(tsv);
  ParseReport tsv_report, csv_report;
  const DataBlock tsv_rows = parse_criteo_text(tsv, "x", options('\t'), &tsv_report);
  const DataBlock csv_rows = parse_criteo_text(csv, "x", options(','), &csv_report);
  EXPECT_EQ(tsv_report.rows, 2996u);  // the short line is a bad line too
  EXPECT_EQ(tsv_report.bad_lines, 4u);
  ASSERT_EQ(csv_report.first_errors.size(), 4u);
  EXPECT_EQ(csv_report.first_errors[0], "x:18: I2 (field 3): 'x' is not an integer");
  EXPECT_EQ(csv_report.first_errors[2], "x:902: wrong number of fields: 3, the schema has 40");
  EXPECT_EQ(csv_report.first_errors[3], tsv_report.first_errors[3]);
  expect_same_rows(tsv_rows, tsv_report, csv_rows, csv_report, "in memory");

  // As a stream (buffers of the minimum size, so lines cross buffer ends).
  ParseReport stream_report;
  const auto in = data::InputStream::from_memory(csv, "x");
  const DataBlock stream_rows = data::parse_criteo_stream(*in, options(','), &stream_report);
  expect_same_rows(tsv_rows, tsv_report, stream_rows, stream_report, "stream");

  // Strict mode names the same first bad line.
  EXPECT_EQ(error_of(csv, options(',', true)), "x.csv:18: I2 (field 3): 'x' is not an integer");
}

TEST(Delimiter, CsvHeaderLineIsSkipped) {
  const std::string body = with_commas(format_line(pattern_line(1)) + "\n" +
                                       format_line(pattern_line(2)) + "\n");
  ParseReport report;
  const DataBlock rows =
      parse_criteo_text("label,I1,I2,C1\n" + body, "x", options(','), &report);
  EXPECT_TRUE(report.header);
  EXPECT_EQ(report.rows, 2u);
  EXPECT_EQ(report.lines, 3u);
  ParseReport plain;
  const DataBlock expected = parse_criteo_text(body, "x", options(','), &plain);
  EXPECT_EQ(std::memcmp(rows.view().sparse, expected.view().sparse, 2 * kNumSparse * 4), 0);
}

TEST(Delimiter, RefusesBytesThatCannotSeparateFields) {
  EXPECT_EQ(delimiter_problem('\t'), "");
  EXPECT_EQ(delimiter_problem(','), "");
  EXPECT_EQ(delimiter_problem(';'), "");
  EXPECT_EQ(delimiter_problem('|'), "");
  EXPECT_EQ(delimiter_problem('-'),
            "'-' cannot separate Criteo fields (digits, letters, '-', '+', '.', line endings and "
            "NUL are parts of values or lines); use a tab (the default) or ','");
  for (const char c : {'0', '7', 'a', 'F', '+', '.'}) {
    EXPECT_EQ(delimiter_problem(c).rfind(std::string("'") + c + "' cannot separate", 0), 0u) << c;
  }
  EXPECT_EQ(delimiter_problem('\n').rfind("byte 0x0a cannot separate", 0), 0u);
  EXPECT_EQ(delimiter_problem('\r').rfind("byte 0x0d cannot separate", 0), 0u);
  EXPECT_EQ(delimiter_problem('\0').rfind("byte 0x00 cannot separate", 0), 0u);
  // Every reader checks it, naming the field.
  const std::string text = format_line(pattern_line(1)) + "\n";
  EXPECT_EQ(error_of(text, options('-')).rfind("delimiter: '-' cannot separate", 0), 0u);
  const auto in = data::InputStream::from_memory(text, "x");
  try {
    data::parse_criteo_stream(*in, options('5'));
    ADD_FAILURE() << "a digit delimiter was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("delimiter: '5' cannot separate", 0), 0u) << e.what();
  }
}

TEST(Delimiter, WrongDelimiterForTheFileIsRefusedWithTheFix) {
  const std::string tsv = tsv_text();
  EXPECT_EQ(error_of(tsv, options(',')),
            "x.csv: looks tab-separated: line 1 has 39 tabs and no ',' (delimiter); read it with "
            "the default delimiter, a tab");
  EXPECT_EQ(error_of(with_commas(tsv), options('\t')).rfind(
                "x.csv: looks comma-separated (CSV): line 1 has 39 commas and no tab; read it "
                "with delimiter ',' or convert it first",
                0),
            0u);
}

}  // namespace
}  // namespace shadowsync
