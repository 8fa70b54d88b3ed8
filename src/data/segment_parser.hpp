// Segment parsing (private to src/data): the parallel parse of one newline-aligned piece of a
// text of any schema (the whole mmapped file, or one buffer of a stream), and the running totals and
// final checks shared by the mmap and stream readers, so both give the same rows, reports and
// errors for the same text. The header rule lives here too (one rule for every reader).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "line_parser.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_block.hpp"

namespace shadowsync::data {

inline constexpr size_t kMinChunkBytes = size_t{64} << 10;

// True when `schema` has Criteo's layout (label, 13 log1p numeric, 26 categorical hex columns, in
// that order, whatever their names, header and list rules): the reader's fast path (LineParser).
bool criteo_layout(const FeatureSchema& schema);

// The line parser of a read: LineParser for Criteo's layout, else SchemaLineParser. Checks the
// options first (schema, hashing, delimiter; Errors name `name`). Not movable (parsers hold
// references to its hasher).
class RowParser {
 public:
  RowParser(const ParseOptions& options, const std::string& name);
  RowParser(const RowParser&) = delete;
  RowParser& operator=(const RowParser&) = delete;

  const LineParser* criteo() const { return criteo_ ? &*criteo_ : nullptr; }
  const SchemaLineParser* schema_parser() const { return schema_ ? &*schema_ : nullptr; }
  const FeatureSchema& schema() const { return schema_def_; }
  const FeatureWidths& widths() const { return widths_; }
  char delimiter() const { return delimiter_; }

 private:
  FeatureSchema schema_def_;
  FeatureWidths widths_;
  char delimiter_;
  CategoryHasher hasher_;
  NumericTransform numeric_;
  std::optional<LineParser> criteo_;
  std::optional<SchemaLineParser> schema_;
};

// Bytes of the header line at the start of `text` (after a BOM; with its newline), or 0 when
// line 1 is data. schema.header: line 1 must be the schema's column names split at `delimiter`
// (else Error "name: line 1: column 3 is 'site' in the header but 'app' in the schema");
// otherwise Criteo's layout skips a header-looking line 1 (header_line_bytes) and other schemas
// have none.
size_t schema_header_bytes(std::string_view text, const FeatureSchema& schema, char delimiter,
                           const std::string& name);

// Bytes of the header line at the start of `text` (with its newline), or 0 when line 1 is data.
// Rule: line 1 is a header when it starts with an ASCII letter (a label is 0 or 1, so a data line
// never does) and has a tab (column names), e.g. "label\tI1\t...". A header is skipped by every reader, in strict mode too,
// and is neither a row nor a bad line.
// With another delimiter (ParseOptions::delimiter), "has a tab" reads "has that delimiter".
size_t header_line_bytes(std::string_view text, char delimiter = '\t');

// Bytes of a UTF-8 byte order mark (EF BB BF) at the start of `text`: 3 or 0. Every reader skips it.
size_t bom_bytes(std::string_view text);

// Where the trailing empty lines of `text` (whole lines from a line start; the text after its
// last non-empty line when that is only "\n" / "\r\n" line endings) begin, and in *count how
// many there are. Every reader ignores them at the end of a file (criteo_reader.hpp).
size_t trailing_empty_lines_start(std::string_view text, uint64_t* count);

// "; NAME has 39 fields per line: ...; is the label column missing?" when every non-empty whole
// line within the first kMaxLineBytes of `text` (at most 1000 of them, at least one) has exactly
// 39 fields, else empty.
std::string missing_label_hint(std::string_view text, const std::string& name, char delimiter);

// The parallel chunk size for `text_bytes` of text: several chunks per thread, at most
// `max_chunk_bytes`, at least kMinChunkBytes.
size_t pick_chunk_bytes(size_t text_bytes, size_t max_chunk_bytes);

struct Segment {
  DataBlock block;  // the good rows, in order
  uint64_t lines = 0, rows = 0, bad = 0;
  std::vector<std::string> errors;  // first kMaxReportedErrors, "name:line: reason"
  std::vector<uint64_t> missing;   // per numeric feature
  uint64_t lists_cut = 0;          // multi-hot lists cut to their max_length
  std::vector<uint64_t> bad_rows;  // keep_bad_lines: placeholder rows, indices in `block`
  std::string cut_warning;         // the text's last line is a cut-off row (see criteo_reader.hpp)
};

// A segment of `lines` bad lines (the first numbered first_line + 1) that are all `reason`,
// e.g. empty lines; with `keep`, each gets a placeholder row. Strict: throws the first.
Segment bad_lines_segment(uint64_t lines, uint64_t first_line, const std::string& name,
                          const std::string& reason, bool strict, bool keep,
                          const FeatureWidths& widths);

// Parses `text` (whole lines; only the last may lack its newline, and then it is the text's last
// line) whose first line is line `first_line` + 1 of the file. Strict: throws the first bad line.
// `spare` (if given and large enough) is reused as the segment's block. Otherwise a new block is
// made, with room for the lines of `room_for_bytes` of text at this text's line density (a stream
// whose buffers grow to that size then reuses it instead of faulting in a larger one each time).
// `keep` (ParseOptions::keep_bad_lines, not strict): bad lines become placeholder rows.
Segment parse_segment(std::string_view text, const std::string& name, const RowParser& parser,
                      bool strict, size_t chunk_bytes, uint64_t first_line,
                      DataBlock* spare = nullptr, size_t room_for_bytes = 0, bool keep = false);

struct ParseTotals {
  bool header = false;
  bool keep = false;  // keep_bad_lines: rows_out counts the placeholder rows too
  uint64_t lines = 0, rows = 0, bad = 0;  // lines without the header; rows: good ones
  uint64_t rows_out = 0;                  // rows handed out (good + placeholders)
  uint64_t lists_cut = 0;
  bool criteo = true;                     // Criteo's layout (messages)
  int fields = kMaxFields;                // the schema's field count (messages)
  std::vector<std::string> first_errors;
  std::vector<uint64_t> missing;
  std::vector<uint64_t> bad_rows;
  std::vector<std::string> warnings;
  std::string hint;  // missing_label_hint of the first text, appended to parse errors

  void add(const Segment& s);
  // The whole-file refusals: no data line, no valid line, mostly bad lines (criteo_reader.hpp);
  // the readers append `hint` (rethrow_with_hint).
  void check(const std::string& name) const;
  // Rethrows the parse error being handled with `hint` appended (call inside a catch block).
  [[noreturn]] void rethrow_with_hint() const;
  // Sets criteo, fields and the width of `missing` for `parser`'s schema.
  void start(const RowParser& parser);
  // file, lines (with the header), rows, bad_lines, header, first_errors, numeric_missing, lists_cut.
  void fill(ParseReport& report, const std::string& name);
};

}  // namespace shadowsync::data
