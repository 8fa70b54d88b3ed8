// Reader of the Criteo Display Advertising raw format: parses TSV text in parallel chunks
// (oneTBB) into a DataBlock with the transforms of feature_transform.hpp applied.
//
// Format, one example per line, tab separated:
//   label (0 or 1), I1..I13 (decimal integers, may be negative, empty = missing),
//   C1..C26 (1 to 8 hex digits, either case, empty = missing).
// Lines end with '\n' or "\r\n"; the last line may lack its newline. A line with fewer than 40
// fields is valid: its absent trailing fields are missing values.
//
// Bad lines (each reported as "file:line: reason", 1-based line numbers):
//   an empty line; a label other than "0"/"1"; an integer field that is not [-]digits or does
//   not fit in int64; a categorical field that is not hex or has more than 8 hex digits; more
//   than 40 fields; a NUL byte; a line longer than kMaxLineBytes (without its line ending).
// Default: bad lines are skipped and counted, the first kMaxReportedErrors kept in the report.
// Strict: the bad line with the smallest line number is thrown as Error("file:line: reason").
// Text with no line at all (empty), or whose every line is bad, is an Error naming the file.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shadowsync/data_block.hpp"
#include "shadowsync/hashing.hpp"

namespace shadowsync {

inline constexpr size_t kMaxLineBytes = size_t{64} << 10;
inline constexpr size_t kMaxReportedErrors = 10;
inline constexpr int kMaxFields = 1 + kNumDense + kNumSparse;  // 40

struct ParseOptions {
  HashingConfig hashing = HashingConfig::uniform();
  bool strict = false;
  // Largest target size of one parallel chunk (chunks end at a newline); smaller files get
  // smaller chunks (down to 64 KiB) so that every thread has work. Tests make it small so that a
  // few lines span many chunks. Must be >= 1.
  size_t chunk_bytes = size_t{2} << 20;
};

struct ParseReport {
  std::string file;
  uint64_t lines = 0, rows = 0, bad_lines = 0;
  std::vector<std::string> first_errors;  // "file:line: reason", in line order
  // Missing values per dense column among the kept rows (dense 0.0f does not tell missing from
  // x <= 0). For a binary cache: as stored when it was written.
  std::array<uint64_t, kNumDense> dense_missing{};
  uint64_t bytes = 0;    // text bytes parsed (0 for a cache)
  double seconds = 0.0;  // wall time of the parse

  // "file: R rows from L lines, B bad lines skipped" and one indented line per first error
  // (plus "... and N more" when more were skipped).
  std::string summary() const;
};

// Parses `text` (the contents of `name`, used in messages). `report`, if given, is filled.
DataBlock parse_criteo_text(std::string_view text, const std::string& name,
                            const ParseOptions& options, ParseReport* report = nullptr);

// mmaps `path` and parses it. Missing, unreadable, directory or empty file -> Error naming it.
DataBlock parse_criteo_file(const std::string& path, const ParseOptions& options,
                            ParseReport* report = nullptr);

}  // namespace shadowsync
