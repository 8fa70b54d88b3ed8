// Reader of click-log text (the Criteo Display Advertising raw format by default): parses text in
// parallel chunks (oneTBB) into a DataBlock with the transforms of feature_transform.hpp applied.
// ParseOptions::schema says what the fields are (feature_schema.hpp); the block has its widths.
//
// Criteo's format (FeatureSchema::criteo()), one example per line, tab separated:
//   label (0 or 1), I1..I13 (decimal integers, may be negative, empty = missing),
//   C1..C26 (1 to 8 hex digits, either case, empty = missing).
// Any schema, per field by kind: label "0"/"1"; numeric log1p: [-]digits fitting int64 (stored
// log1p(max(x, 0))); numeric identity: a decimal number (from_chars syntax: no '+', no hex),
// finite and |x| < 1e30 as a float, stored as is; categorical: 1 to 8 hex digits when
// schema.hex_ids, else any bytes (string_id, feature_transform.hpp), then CategoryHasher::row of
// its table; multi-hot: items split at the column's separator, each an id as above hashed into
// table S + m (an empty field is an empty list; an empty item is a bad line; a list longer than
// its max_length is cut to its first max_length ids and counted in ParseReport::lists_cut, or is
// a bad line with OverlongLists::Refuse); ignored: any content. Empty fields are missing (0).
// Lines end with '\n' or "\r\n". Every line must have exactly the schema's field count (40 for
// Criteo); a shorter or longer line is a bad line ("wrong number of fields: 38, the schema has
// 40"). The last line may lack its newline only when it is a complete row (for Criteo, also its
// last field C26 empty or of 8 hex digits, as every Criteo id has 8); a shorter one is a file cut
// in the middle of a row (a bad line, see below, and a warning in the report).
// A UTF-8 byte order mark (EF BB BF) at the start of the text is skipped. Empty lines at the end
// of the text (the text after its last non-empty line is only line endings, e.g. a file ending
// "\n\n") are ignored by every reader: neither rows, nor bad lines, nor counted in `lines`; an
// empty line followed by a non-empty one is a bad line.
//
// Header: with schema.header, line 1 of each file must be the schema's column names split at the
// delimiter, else an Error naming the file and the first differing column ("x.csv: line 1:
// column 3 is 'site' in the header but 'app' in the schema"). Without it, for Criteo's layout
// only, a line 1 that starts with an ASCII letter and has a tab (column names, e.g.
// "label\tI1\t...\tC26") is taken as a header. A header is skipped by every reader, in strict
// mode too; it is neither a row nor a bad line (ParseReport::header; lines still count it, so
// line numbers stay the file's).
// Compressed input (gzip, zstd: told by magic bytes), standard input ("-") and FIFOs are read as
// streams (src/data/input_stream.hpp) with the same rows, reports and errors as the text itself;
// a corrupt or truncated compressed stream is an Error naming the file and the compressed offset.
//
// Bad lines (each reported as "file:line: reason", 1-based line numbers):
//   an empty line; a label other than "0"/"1"; an integer field that is not [-]digits or does
//   not fit in int64; a decimal field that is not a number or out of range; a categorical field
//   (hex_ids) that is not hex or has more than 8 hex digits; an empty list item; an overlong list
//   (Refuse); a field count other than the schema's; a NUL byte; a line longer than kMaxLineBytes (without its line ending); a
//   last line without newline and with fewer than 40 fields, or with a C26 of 1 to 7 hex digits
//   ("last line has no newline and is incomplete (N fields): the input ends in the middle of a
//   row").
// Default: bad lines are skipped and counted, the first kMaxReportedErrors kept in the report.
// With ParseOptions::keep_bad_lines each bad line instead keeps its place as a placeholder row
// (label 0, every value missing) listed in ParseReport::bad_rows, so that rows and lines align.
// Strict: the bad line with the smallest line number is thrown as Error("file:line: reason").
// Text with no line at all (empty), or whose every line is bad, is an Error naming the file;
// so is text where more than half of the lines, and at least kMinBadLinesToRefuse, are bad
// (not Criteo data: "x: 356000 of 356019 lines are bad (first: ...)"). For Criteo's layout, when
// the non-empty whole
// lines in the first 64 KiB of the text (at most 1000) all have 39 fields (Criteo's test files
// have no label column), such an error and a strict mode error end with "; x has 39 fields per
// line: Criteo's layout is a label then 13 numeric and 26 categorical fields; is the label column
// missing?" (a warning in the report when the file is read anyway).
// Text that is not TSV at all is refused before parsing (check_text_format): compressed data
// inside the (decompressed) text (gzip, zstd, bzip2, xz), a zip or tar archive, a binary cache, a NUL byte in the first line (binary
// data), or a first line with commas and no tab (CSV); the message names the file and the fix.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

inline constexpr size_t kMaxLineBytes = size_t{64} << 10;
inline constexpr size_t kMaxReportedErrors = 10;
inline constexpr int kMaxFields = 1 + kNumNumeric + kNumSparse;  // 40
inline constexpr uint64_t kMinBadLinesToRefuse = 100;

struct ParseOptions {
  // The columns of a line (feature_schema.hpp); Criteo's layout by default. hashing.rows has one
  // entry per table of the schema.
  FeatureSchema schema = FeatureSchema::criteo();
  HashingConfig hashing = HashingConfig::uniform();
  bool strict = false;
  // Largest target size of one parallel chunk (chunks end at a newline); smaller files get
  // smaller chunks (down to 64 KiB) so that every thread has work. Tests make it small so that a
  // few lines span many chunks. Must be >= 1.
  size_t chunk_bytes = size_t{2} << 20;
  // Decompressed text parsed per step when a file is read as a stream (compressed, standard
  // input, a FIFO): the reader holds two such buffers (one parsed while the next is read) plus
  // the rows of one step. Raised to at least 2 * kMaxLineBytes + 4. Must be >= 1.
  size_t stream_buffer_bytes = size_t{32} << 20;
  // The byte between fields: tab (TSV, the default) or e.g. ',' for CSV. Checked by every reader
  // (validate_delimiter): a digit, a letter, '-', '+', '.', a line ending or NUL would make
  // values ambiguous and is an Error naming the field `delimiter`.
  char delimiter = '\t';
  // Keep a placeholder row (label 0, every value missing) in the place of each bad line and list
  // its index in ParseReport::bad_rows, instead of skipping it (`predict` with NaN for bad rows:
  // one row per data line). Ignored in strict mode (the first bad line is thrown).
  bool keep_bad_lines = false;
};

// Why `delimiter` cannot separate Criteo fields (see ParseOptions::delimiter), e.g. "'-' cannot
// separate Criteo fields (...)"; empty when it can.
std::string delimiter_problem(char delimiter);
// Throws Error(field("delimiter") + ": " + delimiter_problem(d)) when there is a problem.
void validate_delimiter(char delimiter);

// Missing counts per numeric feature: a vector of the schema's numeric width. Converts from and
// to Criteo's fixed array of 13 counts for code that stores those (a binary cache of Criteo's
// layout); the conversion to the array requires exactly 13 entries (else Error).
struct NumericMissing : std::vector<uint64_t> {
  using std::vector<uint64_t>::vector;
  NumericMissing() = default;
  NumericMissing(const std::vector<uint64_t>& v) : std::vector<uint64_t>(v) {}  // NOLINT
  NumericMissing(const std::array<uint64_t, kNumNumeric>& a)  // NOLINT
      : std::vector<uint64_t>(a.begin(), a.end()) {}
  operator std::array<uint64_t, kNumNumeric>() const;  // NOLINT
  friend bool operator==(const NumericMissing& a, const NumericMissing& b) {
    return static_cast<const std::vector<uint64_t>&>(a) == static_cast<const std::vector<uint64_t>&>(b);
  }
  friend bool operator==(const NumericMissing& a, const std::vector<uint64_t>& b) {
    return static_cast<const std::vector<uint64_t>&>(a) == b;
  }
  friend bool operator==(const NumericMissing& a, const std::array<uint64_t, kNumNumeric>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }
};

struct ParseReport {
  std::string file;
  uint64_t lines = 0, rows = 0, bad_lines = 0;
  std::vector<std::string> first_errors;  // "file:line: reason", in line order
  // Missing values per numeric feature of the schema (feature order) among the kept rows (numeric
  // 0.0f does not tell missing from x <= 0). For a binary cache: as stored when it was written.
  NumericMissing numeric_missing = NumericMissing(size_t{kNumNumeric}, 0);
  // Multi-hot lists cut to their column's max_length (OverlongLists::Cut), among the kept rows.
  uint64_t lists_cut = 0;
  bool header = false;   // line 1 was a header line (skipped; counted in lines only)
  uint64_t bytes = 0;    // text bytes parsed (0 for a cache), after decompression
  std::string compression;        // "gzip" or "zstd" when the file was compressed, else empty
  uint64_t compressed_bytes = 0;  // bytes read from a compressed file
  double seconds = 0.0;  // wall time of the parse
  // ParseOptions::keep_bad_lines: the 0-based indices (among `rows`, which count them) of the
  // placeholder rows kept for bad lines, in order; bad_lines_kept says the option was on.
  std::vector<uint64_t> bad_rows;
  bool bad_lines_kept = false;
  // What the caller should tell the user although the file was read, e.g. "x.tsv: the input
  // ends in the middle of a row (line 7 has no newline and is incomplete): was it cut off?".
  std::vector<std::string> warnings;

  // "file: R rows from L lines, B bad lines skipped" (", header line skipped" when there was one;
  // "B bad lines kept as placeholder rows" with keep_bad_lines) and one indented line per first
  // error (plus "... and N more" when more were skipped), then one "  warning: ..." per warning.
  std::string summary() const;
  // Adds the counts of another file read after this one (`file` becomes "a + b"; lines, rows,
  // bad lines, missing counts, bytes and seconds summed; its first errors kept while fewer than
  // kMaxReportedErrors are; its bad_rows shifted by this report's rows; warnings appended): the
  // combined report of several files.
  void add_file(const ParseReport& next);
};

// Parses `text` (the contents of `name`, used in messages). `report`, if given, is filled.
DataBlock parse_criteo_text(std::string_view text, const std::string& name,
                            const ParseOptions& options, ParseReport* report = nullptr);

// The parse of parse_criteo_text with exactly this target chunk size (>= 1; chunks end at a
// newline, so a chunk is at least one line): parse_criteo_text picks a size from the text size
// and the thread count, then calls this. Contract (for differential tests and fuzzing): for any
// text and options, every chunk_bytes >= 1 gives the same rows, values and report (except
// `seconds`) as chunk_bytes = text.size() (one chunk), or throws the same Error message.
// options.chunk_bytes is ignored.
DataBlock parse_criteo_buffer(std::string_view text, const std::string& name,
                              const ParseOptions& options, size_t chunk_bytes,
                              ParseReport* report = nullptr);

// Throws Error("name: what it is; what to do") when `text` is clearly not delimited text (see
// the list above); returns for anything else, including an empty text.
void check_text_format(std::string_view text, const std::string& name, char delimiter = '\t');

// Parses `path`: a regular uncompressed file is mmapped and parsed in place; "-" (standard
// input), a FIFO, a character device or a gzip / zstd file is read as a stream (decompressing on
// a second thread while parsing). Missing, unreadable, directory, socket or empty file -> Error
// naming it.
DataBlock parse_criteo_file(const std::string& path, const ParseOptions& options,
                            ParseReport* report = nullptr);

}  // namespace shadowsync
