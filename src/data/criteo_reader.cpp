// Parallel text parsing (any schema; Criteo's layout through its fast path): split the text into newline-aligned chunks, count each chunk's
// lines (pass 1, parallel), parse each chunk straight into its slot range of the output block
// (pass 2, parallel; global line numbers are known from pass 1), then close the gaps left by
// bad lines (sequential memmove in file order). Multi-hot lists: each chunk collects its ids and
// list ends in its own vectors; the join appends them in chunk order and rebases the offsets, so
// any chunk size gives the same rows and ids.
//
// Sharing: in pass 2 each task writes only its own chunk's slot range and its own ChunkResult;
// the one shared variable, first_bad_chunk (strict mode), is a std::atomic.
#include "shadowsync/data/criteo_reader.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "line_parser.hpp"
#include "segment_parser.hpp"
#include "input_stream.hpp"
#include "stream_parse.hpp"
#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

struct Chunk {
  size_t begin = 0, end = 0;  // byte range, ends just after a '\n' (or at the end of the text)
  uint64_t first_line = 0;    // 0-based global index of its first line
  uint64_t lines = 0;
};

struct ChunkResult {
  uint64_t rows = 0;
  uint64_t bad = 0;
  uint64_t lists_cut = 0;
  std::vector<std::string> errors;  // first kMaxReportedErrors, "file:line: reason"
  std::vector<uint64_t> missing;    // per numeric feature
  std::vector<uint32_t> ids;        // multi-hot ids of the chunk's rows, in order
  std::vector<uint64_t> ends;       // rows * M list ends, indices into `ids`
  std::vector<uint64_t> bad_slots;  // keep_bad_lines: the placeholder rows' slots
  std::string cut_warning;          // the chunk ends the text with a cut-off row
};

std::vector<Chunk> split_chunks(std::string_view text, size_t chunk_bytes) {
  std::vector<Chunk> chunks;
  size_t start = 0;
  const size_t n = text.size();
  while (start < n) {
    size_t end = n;
    if (chunk_bytes < n - start) {
      const size_t from = start + chunk_bytes - 1;
      const void* nl = std::memchr(text.data() + from, '\n', n - from);
      if (nl != nullptr) end = static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1;
    }
    chunks.push_back(Chunk{start, end, 0, 0});
    start = end;
  }
  return chunks;
}

uint64_t count_lines(const char* b, const char* e) {
  uint64_t lines = 0;
  while (b < e) {
    const void* nl = std::memchr(b, '\n', static_cast<size_t>(e - b));
    ++lines;
    b = nl ? static_cast<const char*>(nl) + 1 : e;
  }
  return lines;
}

// Criteo ids are 8 hex digits (the reader accepts 1 to 8 anywhere else).
constexpr ptrdiff_t kCriteoIdDigits = 8;

// For the text's last line of Criteo's layout when it has no newline and parsed as a good row:
// true (and *error filled) when it is a cut-off row, its last field C26 of 1 to 7 hex digits.
// A complete row (C26 empty or of 8 digits) is legal without its newline.
bool cut_off_row(const char* b, const char* e, char delimiter, data::LineError* error) {
  const char* last = static_cast<const char*>(::memrchr(b, delimiter, static_cast<size_t>(e - b))) + 1;
  if (e - last > 0 && e - last < kCriteoIdDigits) {
    *error = data::LineError{data::BadLine::kIncompleteLastLine, kMaxFields - 1, last, e, b, e,
                             delimiter};
    return true;
  }
  return false;
}

// A placeholder row (label 0, every value missing); its lists (if any) are pushed by the caller.
void placeholder_row(DataBlock& out, size_t slot) {
  const FeatureWidths& w = out.widths();
  out.labels()[slot] = 0.0f;
  std::fill_n(out.numeric() + slot * size_t(w.numeric), w.numeric, 0.0f);
  std::fill_n(out.sparse() + slot * size_t(w.sparse), w.sparse, kMissingRow);
}

// kCriteo: the parser is the LineParser of Criteo's layout (decided per chunk, not per line).
template <bool kCriteo>
void parse_chunk(std::string_view text, const Chunk& chunk, const std::string& name,
                 const data::RowParser& parser, bool strict, bool keep,
                 std::atomic<size_t>& first_bad_chunk, size_t chunk_index, uint64_t line_offset,
                 DataBlock& out, ChunkResult& result) {
  const char* p = text.data() + chunk.begin;
  const char* const end = text.data() + chunk.end;
  const size_t max_errors = strict ? 1 : kMaxReportedErrors;
  size_t slot = chunk.first_line;
  uint64_t line = chunk.first_line;
  const data::LineParser* const criteo = parser.criteo();
  const data::SchemaLineParser* const general = parser.schema_parser();
  const FeatureWidths widths = parser.widths();
  const size_t n_width = size_t(widths.numeric), s_width = size_t(widths.sparse);
  const size_t m_width = size_t(widths.multi_hot);
  std::vector<uint64_t> missing(n_width, 0);
  std::vector<uint8_t> missing_flags(n_width, 0);  // SchemaLineParser's per-line flags
  std::vector<uint64_t> ends(m_width, 0);          // SchemaLineParser's per-line list ends
  data::LineError error;
  while (p < end) {
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(end - p));
    const char* next = nl ? static_cast<const char*>(nl) + 1 : end;
    const char* line_end = nl ? static_cast<const char*>(nl) : end;
    if (line_end != p && line_end[-1] == '\r') --line_end;
    uint32_t mask = 0;
    bool cut = false;
    const size_t ids_before = result.ids.size();
    bool good;
    if constexpr (kCriteo) {
      good = criteo->parse(p, line_end, out.labels() + slot, out.numeric() + slot * kNumNumeric,
                           out.sparse() + slot * kNumSparse, &mask, &error);
    } else {
      good = general->parse(p, line_end, out.labels() + slot, out.numeric() + slot * n_width,
                            out.sparse() + slot * s_width, result.ids, ends.data(),
                            missing_flags.data(), &cut, &error);
    }
    // The text's last line without its newline: a file cut in the middle of a row when it has
    // too few fields, or (Criteo) a short last id (cut_off_row). A line bad for another reason
    // reports that reason.
    if (nl == nullptr) {
      if (good && kCriteo && cut_off_row(p, line_end, parser.delimiter(), &error)) {
        good = false;
      } else if (!good && error.kind == data::BadLine::kFieldCount &&
                 std::count(p, line_end, parser.delimiter()) + 1 < error.expected_fields) {
        error.kind = data::BadLine::kIncompleteLastLine;
        error.field = 0;
      }
      if (!good && error.kind == data::BadLine::kIncompleteLastLine) {
        result.cut_warning = fmt::format(
            "{}: the input ends in the middle of a row (line {} has no newline and is "
            "incomplete): was it cut off?",
            name, line_offset + line + 1);
      }
    }
    if (good) {
      ++slot;
      if constexpr (kCriteo) {
        for (uint32_t m = mask; m != 0; m &= m - 1) ++missing[static_cast<size_t>(__builtin_ctz(m))];
      } else {
        for (size_t j = 0; j < n_width; ++j) missing[j] += missing_flags[j];
        result.ends.insert(result.ends.end(), ends.begin(), ends.end());
        result.lists_cut += cut;
      }
    } else {
      if constexpr (!kCriteo) result.ids.resize(ids_before);
      ++result.bad;
      if (result.errors.size() < max_errors) {
        result.errors.push_back(
            fmt::format("{}:{}: {}", name, line_offset + line + 1, error.describe()));
      }
      if (strict) {
        // Later chunks cannot hold the first bad line any more.
        size_t seen = first_bad_chunk.load(std::memory_order_relaxed);
        while (chunk_index < seen &&
               !first_bad_chunk.compare_exchange_weak(seen, chunk_index,
                                                      std::memory_order_relaxed)) {
        }
        break;
      }
      if (keep) {
        placeholder_row(out, slot);
        result.ends.insert(result.ends.end(), m_width, result.ids.size());
        result.bad_slots.push_back(slot);
        ++slot;
      }
    }
    ++line;
    p = next;
  }
  result.rows = slot - chunk.first_line;
  result.missing = std::move(missing);
}

}  // namespace

NumericMissing::operator std::array<uint64_t, kNumNumeric>() const {
  if (size() != size_t{kNumNumeric}) {
    throw Error(fmt::format("missing counts of {} numeric features where Criteo's {} were expected",
                            size(), kNumNumeric));
  }
  std::array<uint64_t, kNumNumeric> out{};
  std::copy(begin(), end(), out.begin());
  return out;
}

void ParseReport::add_file(const ParseReport& next) {
  file += (file.empty() ? "" : " + ") + next.file;
  for (const uint64_t r : next.bad_rows) bad_rows.push_back(rows + r);
  bad_lines_kept = bad_lines_kept || next.bad_lines_kept;
  warnings.insert(warnings.end(), next.warnings.begin(), next.warnings.end());
  lines += next.lines;
  rows += next.rows;
  bad_lines += next.bad_lines;
  bytes += next.bytes;
  compressed_bytes += next.compressed_bytes;
  seconds += next.seconds;
  lists_cut += next.lists_cut;
  if (numeric_missing.size() < next.numeric_missing.size()) {
    numeric_missing.resize(next.numeric_missing.size(), 0);
  }
  for (size_t j = 0; j < next.numeric_missing.size(); ++j) numeric_missing[j] += next.numeric_missing[j];
  for (const std::string& e : next.first_errors) {
    if (first_errors.size() < kMaxReportedErrors) first_errors.push_back(e);
  }
}

std::string ParseReport::summary() const {
  std::string out = fmt::format("{}: {} rows from {} lines, {} bad lines {}", file, rows, lines,
                                bad_lines, bad_lines_kept ? "kept as placeholder rows" : "skipped");
  if (header) out += ", header line skipped";
  if (lists_cut > 0) out += fmt::format(", {} lists cut to their max_length", lists_cut);
  for (const std::string& e : first_errors) out += "\n  " + e;
  if (bad_lines > first_errors.size()) {
    out += fmt::format("\n  ... and {} more bad lines", bad_lines - first_errors.size());
  }
  for (const std::string& w : warnings) out += "\n  warning: " + w;
  return out;
}

std::string delimiter_problem(char delimiter) {
  const unsigned char c = static_cast<unsigned char>(delimiter);
  const bool refused = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '-' || c == '+' || c == '.' || c == '\n' || c == '\r' || c == '\0';
  if (!refused) return {};
  return fmt::format("{} cannot separate Criteo fields (digits, letters, '-', '+', '.', line "
                     "endings and NUL are parts of values or lines); use a tab (the default) or ','",
                     c >= 0x20 && c < 0x7f ? fmt::format("'{}'", delimiter)
                                           : fmt::format("byte 0x{:02x}", c));
}

void validate_delimiter(char delimiter) {
  const std::string problem = delimiter_problem(delimiter);
  if (!problem.empty()) throw Error(field("delimiter") + ": " + problem);
}

void check_text_format(std::string_view text, const std::string& name, char delimiter) {
  const auto starts_with = [&](std::string_view magic) { return text.starts_with(magic); };
  // "x.tsv.gz" -> "x.tsv", "x.gz" -> "x.tsv": the file to decompress into, for the hint.
  const auto decompressed_name = [&](std::string_view suffix) {
    std::string out = name;
    if (out.ends_with(suffix)) out.resize(out.size() - suffix.size());
    if (!out.ends_with(".tsv")) out += ".tsv";
    return out;
  };
  const auto compressed = [&](const char* format, const char* tool, std::string_view suffix) {
    throw Error(fmt::format("{}: {}-compressed data; decompress it first (e.g. {} {} > {})", name,
                            format, tool, name, decompressed_name(suffix)));
  };
  if (starts_with("\x1f\x8b")) compressed("gzip", "zcat", ".gz");
  if (starts_with("\x28\xb5\x2f\xfd") ||
      (text.size() >= 4 && (static_cast<unsigned char>(text[0]) & 0xF0) == 0x50 &&
       text.substr(1, 3) == "\x2a\x4d\x18")) {  // a zstd frame or skippable frame
    compressed("zstd", "zstdcat", ".zst");
  }
  if (starts_with("BZh")) compressed("bzip2", "bzcat", ".bz2");
  if (starts_with(std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6))) compressed("xz", "xzcat", ".xz");
  if (starts_with("PK\x03\x04")) {
    throw Error(fmt::format("{}: a zip archive; extract the TSV first (e.g. unzip -p {} > {})",
                            name, name, decompressed_name(".zip")));
  }
  if (text.size() >= 262 && text.substr(257, 5) == "ustar") {
    throw Error(fmt::format("{}: a tar archive; extract the TSV first (e.g. tar -xf {}), or "
                            "stream one member (e.g. tar -xOzf {} train.txt | shadowsync convert "
                            "- out.bin)",
                            name, name, name));
  }
  if (starts_with(std::string_view("SSYNCDAT", 8))) {
    throw Error(name + ": a shadowsync binary cache, not Criteo TSV text");
  }
  const std::string_view first_line = text.substr(0, std::min(text.find('\n'), kMaxLineBytes));
  if (const size_t nul = first_line.find('\0'); nul != std::string_view::npos) {
    throw Error(fmt::format("{}: binary data (NUL byte at offset {} of the first line); "
                            "shadowsync reads tab-separated Criteo text",
                            name, nul));
  }
  const auto commas = std::count(first_line.begin(), first_line.end(), ',');
  if (delimiter == '\t' && commas >= 2 && first_line.find('\t') == std::string_view::npos) {
    throw Error(fmt::format(
        "{}: looks comma-separated (CSV): line 1 has {} commas and no tab; read it with {} ',' "
        "or convert it first (e.g. tr ',' '\\t' < {} > {})",
        name, commas, field("delimiter"), name, decompressed_name(".csv")));
  }
  const auto tabs = std::count(first_line.begin(), first_line.end(), '\t');
  if (delimiter != '\t' && tabs >= 2 &&
      first_line.find(delimiter) == std::string_view::npos) {
    throw Error(fmt::format("{}: looks tab-separated: line 1 has {} tabs and no '{}' ({}); "
                            "read it with the default delimiter, a tab",
                            name, tabs, delimiter, field("delimiter")));
  }
}

DataBlock parse_criteo_text(std::string_view text, const std::string& name,
                            const ParseOptions& options, ParseReport* report) {
  if (options.chunk_bytes == 0) throw Error(name + ": parse option chunk_bytes must be >= 1");
  return parse_criteo_buffer(text, name, options,
                             data::pick_chunk_bytes(text.size(), options.chunk_bytes), report);
}

namespace data {

bool criteo_layout(const FeatureSchema& schema) {
  if (!schema.hex_ids || schema.field_count() != kMaxFields) return false;
  for (int c = 0; c < kMaxFields; ++c) {
    const SchemaColumn& col = schema.columns[size_t(c)];
    if (c == 0) {
      if (col.kind != ColumnKind::Label) return false;
    } else if (c <= kNumNumeric) {
      if (col.kind != ColumnKind::Numeric || col.transform != NumericTransformKind::Log1p) return false;
    } else if (col.kind != ColumnKind::Categorical) {
      return false;
    }
  }
  return true;
}

namespace {
const HashingConfig& checked_hashing(const ParseOptions& options, const std::string& name) {
  options.schema.validate(name + ": " + field("schema"));
  validate_delimiter(options.delimiter);
  validate_hashing(options.hashing, name + ": hashing config");
  if (options.hashing.tables() != options.schema.table_count()) {
    throw Error(fmt::format("{}: the hashing config has {} tables but the schema ({}) has {}",
                            name, options.hashing.tables(), field("schema"),
                            options.schema.table_count()));
  }
  return options.hashing;
}
}  // namespace

RowParser::RowParser(const ParseOptions& options, const std::string& name)
    : schema_def_(options.schema),
      widths_{options.schema.numeric_count(), options.schema.categorical_count(),
              options.schema.multi_hot_count()},
      delimiter_(options.delimiter),
      hasher_(checked_hashing(options, name)) {
  if (criteo_layout(schema_def_)) {
    criteo_.emplace(hasher_, numeric_, delimiter_);
  } else {
    schema_.emplace(schema_def_, hasher_, numeric_, delimiter_);
  }
}

size_t schema_header_bytes(std::string_view text, const FeatureSchema& schema, char delimiter,
                           const std::string& name) {
  if (!schema.header) return criteo_layout(schema) ? header_line_bytes(text, delimiter) : 0;
  const size_t nl = text.find('\n');
  const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
  std::string_view line = text.substr(0, nl == std::string_view::npos ? text.size() : nl);
  if (line.ends_with('\r')) line.remove_suffix(1);
  size_t at = 0;
  for (int c = 0;; ++c) {
    const size_t d = line.find(delimiter, at);
    const std::string_view got = line.substr(at, d == std::string_view::npos ? line.size() - at : d - at);
    if (c >= schema.field_count()) {
      throw Error(fmt::format("{}: line 1: the header has more columns than the schema's {} "
                              "(column {} is '{}')",
                              name, schema.field_count(), c + 1, got));
    }
    const std::string& want = schema.columns[size_t(c)].name;
    if (got != want) {
      throw Error(fmt::format("{}: line 1: column {} is '{}' in the header but '{}' in the schema",
                              name, c + 1, got, want));
    }
    if (d == std::string_view::npos) {
      if (c + 1 < schema.field_count()) {
        throw Error(fmt::format("{}: line 1: the header has {} columns, the schema has {} (column "
                                "{} '{}' is missing)",
                                name, c + 1, schema.field_count(), c + 2,
                                schema.columns[size_t(c + 1)].name));
      }
      break;
    }
    at = d + 1;
  }
  return end;
}

size_t header_line_bytes(std::string_view text, char delimiter) {
  if (text.empty()) return 0;
  const unsigned char c = static_cast<unsigned char>(text.front());
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 0;
  const size_t nl = text.find('\n');
  const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
  return text.substr(0, end).find(delimiter) == std::string_view::npos ? 0 : end;
}

size_t bom_bytes(std::string_view text) { return text.starts_with("\xEF\xBB\xBF") ? 3 : 0; }

size_t trailing_empty_lines_start(std::string_view text, uint64_t* count) {
  size_t end = text.size();
  uint64_t n = 0;
  while (end > 0 && text[end - 1] == '\n') {
    size_t b = end - 1;  // the line's content is text[start, b)
    if (b > 0 && text[b - 1] == '\r') --b;
    if (b != 0 && text[b - 1] != '\n') break;  // a non-empty line
    end = b;
    ++n;
  }
  *count = n;
  return end;
}

std::string missing_label_hint(std::string_view text, const std::string& name, char delimiter) {
  // The same sample for every reader: the whole lines within the first kMaxLineBytes (a stream's
  // first buffer holds at least that much after a header), empty lines skipped.
  constexpr int kSampleLines = 1000;
  text = text.substr(0, std::min(text.size(), kMaxLineBytes));
  int lines = 0;
  size_t at = 0;
  while (lines < kSampleLines) {
    const size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) break;  // only whole lines
    const std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty() || line == "\r") continue;
    if (std::count(line.begin(), line.end(), delimiter) != kMaxFields - 2) return {};
    ++lines;
  }
  if (lines == 0) return {};
  return fmt::format("; {} has {} fields per line: Criteo's layout is a label then {} numeric and "
                     "{} categorical fields; is the label column missing?",
                     name, kMaxFields - 1, kNumNumeric, kNumSparse);
}

Segment bad_lines_segment(uint64_t lines, uint64_t first_line, const std::string& name,
                          const std::string& reason, bool strict, bool keep,
                          const FeatureWidths& widths) {
  Segment out;
  out.lines = lines;
  out.bad = lines;
  for (uint64_t i = 0; i < lines && out.errors.size() < kMaxReportedErrors; ++i) {
    out.errors.push_back(fmt::format("{}:{}: {}", name, first_line + i + 1, reason));
    if (strict) throw Error(out.errors.front());
  }
  out.missing.assign(size_t(widths.numeric), 0);
  if (keep) {
    out.block = DataBlock(lines, widths);  // zero-filled: every row a placeholder, lists empty
    for (uint64_t i = 0; i < lines; ++i) out.bad_rows.push_back(i);
    out.rows = lines;
  }
  return out;
}

size_t pick_chunk_bytes(size_t text_bytes, size_t max_chunk_bytes) {
  const size_t concurrency = static_cast<size_t>(tbb::this_task_arena::max_concurrency());
  return std::min(max_chunk_bytes, std::max(text_bytes / (8 * concurrency), kMinChunkBytes));
}

Segment parse_segment(std::string_view text, const std::string& name, const RowParser& parser,
                      bool strict, size_t chunk_bytes, uint64_t first_line, DataBlock* spare,
                      size_t room_for_bytes, bool keep) {
  keep = keep && !strict;
  std::vector<Chunk> chunks = split_chunks(text, chunk_bytes);
  tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks.size(), 1),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t c = r.begin(); c != r.end(); ++c) {
                        chunks[c].lines = count_lines(text.data() + chunks[c].begin,
                                                      text.data() + chunks[c].end);
                      }
                    });
  uint64_t total_lines = 0;
  for (Chunk& c : chunks) {
    c.first_line = total_lines;
    total_lines += c.lines;
  }

  Segment out;
  if (spare != nullptr && spare->reuse_for(total_lines)) {
    out.block = std::move(*spare);
  } else {
    size_t capacity = total_lines;
    if (room_for_bytes > text.size() && !text.empty()) {
      // Lines of room_for_bytes at this density, and an eighth more for denser text.
      const double scale = static_cast<double>(room_for_bytes) / static_cast<double>(text.size());
      capacity = static_cast<size_t>(static_cast<double>(total_lines) * scale * 1.125) + 1;
    }
    out.block = DataBlock::uninitialized(total_lines, capacity, parser.widths());
  }
  DataBlock& block = out.block;
  std::vector<ChunkResult> results(chunks.size());
  std::atomic<size_t> first_bad_chunk{std::numeric_limits<size_t>::max()};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks.size(), 1),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t c = r.begin(); c != r.end(); ++c) {
                        if (strict && c > first_bad_chunk.load(std::memory_order_relaxed)) {
                          continue;  // an earlier chunk already has the first bad line
                        }
                        if (parser.criteo() != nullptr) {
                          parse_chunk<true>(text, chunks[c], name, parser, strict, keep,
                                            first_bad_chunk, c, first_line, block, results[c]);
                        } else {
                          parse_chunk<false>(text, chunks[c], name, parser, strict, keep,
                                             first_bad_chunk, c, first_line, block, results[c]);
                        }
                      }
                    });

  if (strict) {
    const size_t c = first_bad_chunk.load();
    if (c != std::numeric_limits<size_t>::max()) throw Error(results[c].errors.front());
  }

  // Close the gaps of bad lines, in file order (destinations never pass their sources); join
  // the chunks' lists, rebasing their ends onto the block's id list.
  const FeatureWidths widths = parser.widths();
  const size_t nw = size_t(widths.numeric), sw = size_t(widths.sparse), mw = size_t(widths.multi_hot);
  out.missing.assign(nw, 0);
  if (mw > 0) {
    size_t ids = 0;
    for (const ChunkResult& r : results) ids += r.ids.size();
    block.bag_ids().clear();
    block.bag_ids().reserve(ids);
    block.bag_offsets()[0] = 0;
  }
  uint64_t rows = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    ChunkResult& r = results[c];
    const size_t from = chunks[c].first_line;
    if (rows != from && r.rows > 0) {
      std::memmove(block.labels() + rows, block.labels() + from, r.rows * sizeof(float));
      if (nw > 0) {
        std::memmove(block.numeric() + rows * nw, block.numeric() + from * nw,
                     r.rows * nw * sizeof(float));
      }
      if (sw > 0) {
        std::memmove(block.sparse() + rows * sw, block.sparse() + from * sw,
                     r.rows * sw * sizeof(uint32_t));
      }
    }
    if (mw > 0) {
      const uint64_t base = block.bag_ids().size();
      uint64_t* offsets = block.bag_offsets().data() + rows * mw + 1;
      for (size_t k = 0; k < r.rows * mw; ++k) offsets[k] = base + r.ends[k];
      block.bag_ids().insert(block.bag_ids().end(), r.ids.begin(), r.ids.end());
      std::vector<uint32_t>().swap(r.ids);
    }
    out.lists_cut += r.lists_cut;
    for (const uint64_t slot : r.bad_slots) out.bad_rows.push_back(slot);  // no gaps when kept
    if (!r.cut_warning.empty()) out.cut_warning = r.cut_warning;
    rows += r.rows;
    out.bad += r.bad;
    for (size_t j = 0; j < r.missing.size(); ++j) out.missing[j] += r.missing[j];
    for (const std::string& e : r.errors) {
      if (out.errors.size() < kMaxReportedErrors) out.errors.push_back(e);
    }
  }
  block.truncate(rows);
  out.lines = total_lines;
  out.rows = rows;
  return out;
}

void ParseTotals::add(const Segment& s) {
  for (const uint64_t r : s.bad_rows) bad_rows.push_back(rows_out + r);
  if (!s.cut_warning.empty()) warnings.push_back(s.cut_warning);
  lines += s.lines;
  rows_out += s.rows;
  rows += s.rows - s.bad_rows.size();
  bad += s.bad;
  lists_cut += s.lists_cut;
  if (missing.size() < s.missing.size()) missing.resize(s.missing.size(), 0);
  for (size_t j = 0; j < s.missing.size(); ++j) missing[j] += s.missing[j];
  for (const std::string& e : s.errors) {
    if (first_errors.size() < kMaxReportedErrors) first_errors.push_back(e);
  }
}

void ParseTotals::check(const std::string& name) const {
  if (lines == 0) {
    throw Error(name + (header ? ": no data line (only a header line)" : ": no data line (only empty lines)"));
  }
  if (rows == 0) {
    throw Error(fmt::format("{}: no valid line: all {} lines are bad (first: {})", name, lines,
                            first_errors.empty() ? "?" : first_errors.front()));
  }
  if (bad >= kMinBadLinesToRefuse && bad > lines - bad) {
    if (criteo) {
      throw Error(fmt::format("{}: {} of {} lines are bad (first: {}); this does not look like "
                              "Criteo TSV data (tab-separated label, I1..I13, C1..C26)",
                              name, bad, lines, first_errors.front()));
    }
    throw Error(fmt::format("{}: {} of {} lines are bad (first: {}); this does not look like "
                            "data of the schema ({}: {} fields per line)",
                            name, bad, lines, first_errors.front(), field("schema"), fields));
  }
}

void ParseTotals::start(const RowParser& parser) {
  criteo = parser.criteo() != nullptr;
  fields = parser.schema().field_count();
  missing.assign(size_t(parser.widths().numeric), 0);
}

void ParseTotals::rethrow_with_hint() const {
  try {
    throw;
  } catch (const Error& e) {
    if (hint.empty()) throw;
    throw Error(e.marked() + hint);
  }
}

void ParseTotals::fill(ParseReport& report, const std::string& name) {
  report.file = name;
  report.lines = lines + (header ? 1 : 0);
  report.rows = rows_out;
  report.bad_rows = std::move(bad_rows);
  report.bad_lines_kept = keep;
  if (!hint.empty()) warnings.push_back(hint.substr(2));  // without its "; "
  report.warnings = std::move(warnings);
  report.bad_lines = bad;
  report.header = header;
  report.first_errors = std::move(first_errors);
  report.numeric_missing = std::move(missing);
  report.lists_cut = lists_cut;
}

}  // namespace data

DataBlock parse_criteo_buffer(std::string_view text, const std::string& name,
                              const ParseOptions& options, size_t chunk_bytes,
                              ParseReport* report) {
  const auto started = std::chrono::steady_clock::now();
  if (chunk_bytes == 0) throw Error(name + ": parse chunk size must be >= 1");
  const data::RowParser parser(options, name);
  if (text.empty()) throw Error(name + ": empty file (no lines)");
  check_text_format(text, name, options.delimiter);

  data::ParseTotals totals;
  totals.start(parser);
  totals.keep = options.keep_bad_lines && !options.strict;
  const size_t bom = data::bom_bytes(text);
  const size_t header =
      bom + data::schema_header_bytes(text.substr(bom), options.schema, options.delimiter, name);
  totals.header = header > bom;
  uint64_t ignored = 0;
  const std::string_view body = text.substr(header);
  const std::string_view lines = body.substr(0, data::trailing_empty_lines_start(body, &ignored));
  if (totals.criteo) totals.hint = data::missing_label_hint(lines, name, options.delimiter);
  data::Segment segment;
  try {
    segment = data::parse_segment(lines, name, parser, options.strict, chunk_bytes,
                                  totals.header ? 1 : 0, nullptr, 0, totals.keep);
    totals.add(segment);
    totals.check(name);
  } catch (const Error&) {
    totals.rethrow_with_hint();
  }
  if (report != nullptr) {
    totals.fill(*report, name);
    report->bytes = text.size();
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  return std::move(segment.block);
}

DataBlock parse_criteo_file(const std::string& path, const ParseOptions& options,
                            ParseReport* report) {
  const auto started = std::chrono::steady_clock::now();
  DataBlock block;
  if (data::is_mappable_text(path)) {
    const MappedFile file(path);
    if (file.size() == 0) throw Error(path + ": empty file (no lines)");
    block = parse_criteo_text(file.text(), path, options, report);
  } else {
    const std::unique_ptr<data::InputStream> in = data::InputStream::open(path);
    block = data::parse_criteo_stream(*in, options, report);
  }
  if (report != nullptr) {
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
  return block;
}

}  // namespace shadowsync
