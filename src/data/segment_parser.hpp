// Segment parsing (private to src/data): the parallel parse of one newline-aligned piece of a
// Criteo text (the whole mmapped file, or one buffer of a stream), and the running totals and
// final checks shared by the mmap and stream readers, so both give the same rows, reports and
// errors for the same text. The header rule lives here too (one rule for every reader).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "line_parser.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/data_block.hpp"

namespace shadowsync::data {

inline constexpr size_t kMinChunkBytes = size_t{64} << 10;

// Bytes of the header line at the start of `text` (with its newline), or 0 when line 1 is data.
// Rule: line 1 is a header when it starts with an ASCII letter (a label is 0 or 1, so a data line
// never does) and has a tab (column names), e.g. "label\tI1\t...". A header is skipped by every reader, in strict mode too,
// and is neither a row nor a bad line.
// With another delimiter (ParseOptions::delimiter), "has a tab" reads "has that delimiter".
size_t header_line_bytes(std::string_view text, char delimiter = '\t');

// The parallel chunk size for `text_bytes` of text: several chunks per thread, at most
// `max_chunk_bytes`, at least kMinChunkBytes.
size_t pick_chunk_bytes(size_t text_bytes, size_t max_chunk_bytes);

struct Segment {
  DataBlock block;  // the good rows, in order
  uint64_t lines = 0, rows = 0, bad = 0;
  std::vector<std::string> errors;  // first kMaxReportedErrors, "name:line: reason"
  std::array<uint64_t, kNumNumeric> missing{};
};

// Parses `text` (whole lines; only the last may lack its newline, and then it is the text's last
// line) whose first line is line `first_line` + 1 of the file. Strict: throws the first bad line.
// `spare` (if given and large enough) is reused as the segment's block. Otherwise a new block is
// made, with room for the lines of `room_for_bytes` of text at this text's line density (a stream
// whose buffers grow to that size then reuses it instead of faulting in a larger one each time).
Segment parse_segment(std::string_view text, const std::string& name, const LineParser& parser,
                      bool strict, size_t chunk_bytes, uint64_t first_line,
                      DataBlock* spare = nullptr, size_t room_for_bytes = 0);

struct ParseTotals {
  bool header = false;
  uint64_t lines = 0, rows = 0, bad = 0;  // lines without the header
  std::vector<std::string> first_errors;
  std::array<uint64_t, kNumNumeric> missing{};

  void add(const Segment& s);
  // The whole-file refusals: no data line, no valid line, mostly bad lines (criteo_reader.hpp).
  void check(const std::string& name) const;
  // file, lines (with the header), rows, bad_lines, header, first_errors, numeric_missing.
  void fill(ParseReport& report, const std::string& name);
};

}  // namespace shadowsync::data
