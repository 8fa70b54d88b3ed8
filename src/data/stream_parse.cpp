// Streaming Criteo parse: double-buffered reading (the next buffer is read on a second thread
// while the current one is parsed), buffers cut after their last newline (the partial line is
// carried into the next), lines longer than a buffer skipped as too long without holding them.
#include "stream_parse.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "segment_parser.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::data {
namespace {

// A buffer left uninitialized (no 32 MiB zero-fill: a small input touches only its own pages).
struct Buffer {
  explicit Buffer(size_t n) : bytes(new char[n]), length(n) {}
  char* data() { return bytes.get(); }
  size_t size() const { return length; }
  std::unique_ptr<char[]> bytes;
  size_t length;
};

// Reads into buf[carry, limit) (the caller placed the carry before it; limit <= size); returns
// the filled length and sets *eof when the stream ended before `limit` bytes.
size_t fill(InputStream& in, Buffer& buf, size_t carry, size_t limit, bool* eof) {
  const size_t got = in.read_full(buf.data() + carry, limit - carry);
  *eof = carry + got < limit;
  return carry + got;
}

// The first buffer is filled only to this many bytes and each next one to twice the previous,
// up to the whole buffer: the first read is the only one nothing overlaps, so it is kept short.
constexpr size_t kFirstFillBytes = size_t{1} << 20;

// Allocates the two stream buffers, saying what needed the memory when there is too little.
std::pair<Buffer, Buffer> make_buffers(size_t bytes, const std::string& name) {
  try {
    return {Buffer(bytes), Buffer(bytes)};
  } catch (const std::bad_alloc&) {
    throw Error(fmt::format("cannot allocate {} MiB for the parse buffers of '{}' (2 x {} MiB): "
                            "too little memory (see ulimit -v)",
                            2 * bytes >> 20, name, bytes >> 20));
  }
}

void parse_stream(InputStream& in, const ParseOptions& options,
                  const std::function<void(Segment&, uint64_t)>& take, ParseReport* report) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& name = in.name();
  if (options.chunk_bytes == 0) throw Error(name + ": parse option chunk_bytes must be >= 1");
  if (options.stream_buffer_bytes == 0) {
    throw Error(name + ": parse option stream_buffer_bytes must be >= 1");
  }
  const RowParser parser(options, name);
  const size_t buffer_bytes = std::max(options.stream_buffer_bytes, 2 * kMaxLineBytes + 4);
  const size_t chunk_bytes = pick_chunk_bytes(buffer_bytes, options.chunk_bytes);

  const bool keep = options.keep_bad_lines && !options.strict;

  std::pair<Buffer, Buffer> buffers = make_buffers(buffer_bytes, name);
  Buffer& cur = buffers.first;
  Buffer& next = buffers.second;
  // At least 2 x kMaxLineBytes + 4 (buffer_bytes' own minimum), so a carried partial line of up to
  // kMaxLineBytes always leaves room for a whole next line.
  size_t fill_limit = std::min(buffer_bytes, std::max(kFirstFillBytes, 2 * kMaxLineBytes + 4));
  bool eof = false;
  size_t len = fill(in, cur, 0, fill_limit, &eof);
  if (len == 0) throw Error(name + ": empty file (no lines)");
  check_text_format(std::string_view(cur.data(), len), name, options.delimiter);

  ParseTotals totals;
  totals.start(parser);
  totals.keep = keep;
  DataBlock spare;
  // The segment whose rows `take` is handling on its own thread (declared before the future, so
  // the future, destroyed first, waits for that thread while the segment still exists).
  Segment taken;
  std::future<void> taking;
  const size_t bom = bom_bytes(std::string_view(cur.data(), len));
  if (options.schema.header && !eof && std::memchr(cur.data(), '\n', len) == nullptr) {
    throw Error(fmt::format("{}:1: header line longer than {} bytes", name, fill_limit));
  }
  size_t start = bom + schema_header_bytes(std::string_view(cur.data() + bom, len - bom),
                                           options.schema, options.delimiter, name);
  if (start == len && !eof) {
    throw Error(fmt::format("{}:1: header line longer than {} bytes", name, fill_limit));
  }
  totals.header = start > bom;
  if (totals.criteo) {
    totals.hint = missing_label_hint(std::string_view(cur.data() + start, len - start), name,
                                     options.delimiter);
  }
  uint64_t parsed_bytes = start;  // decompressed bytes up to the end of the last parsed buffer
  uint64_t next_line = totals.header ? 1 : 0;  // 0-based number of the line at cur[start]
  // Empty lines seen last (after the last non-empty line so far), not yet counted: bad lines if
  // a non-empty line follows, ignored at the end of the text.
  uint64_t pending_empty = 0;
  // Hands a segment's rows to `take` on its own thread, after the previous segment's (whose
  // block becomes the spare).
  const auto hand_over = [&](Segment&& segment, uint64_t bytes) {
    if (taking.valid()) taking.get();
    spare = std::move(taken.block);
    taken = std::move(segment);
    taking = std::async(std::launch::async, [&take, &taken, bytes] { take(taken, bytes); });
  };
  // Counts the pending empty lines as bad lines (a non-empty line follows them).
  const auto flush_empty = [&] {
    if (pending_empty == 0) return;
    Segment empties = bad_lines_segment(pending_empty, next_line, name, "empty line",
                                        options.strict, keep, parser.widths());
    next_line += pending_empty;
    pending_empty = 0;
    totals.add(empties);
    if (keep) hand_over(std::move(empties), parsed_bytes);
  };

  try {
    for (;;) {
      const std::string_view text(cur.data() + start, len - start);
      if (text.empty() && eof) break;
      size_t cut = text.size();  // parse text[0, cut), carry the rest
      if (!eof) {
        const void* nl = ::memrchr(text.data(), '\n', text.size());
        cut = nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1;
      }
      if (cut == 0) {
        // A line longer than the whole buffer (so longer than kMaxLineBytes): skip it to its
        // newline, counting its bytes, and report it as too long.
        flush_empty();
        uint64_t bytes = text.size();
        char last = text.back();
        size_t rest_at = 0, rest_len = 0;
        bool found = false;
        while (!found) {
          const size_t got = in.read(cur.data(), cur.size());
          if (got == 0) {
            eof = true;
            break;
          }
          const void* nl = std::memchr(cur.data(), '\n', got);
          const size_t upto = nl ? static_cast<size_t>(static_cast<const char*>(nl) - cur.data()) : got;
          bytes += upto;
          if (upto > 0) last = cur.data()[upto - 1];
          if (nl != nullptr) {
            found = true;
            rest_at = upto + 1;
            rest_len = got - rest_at;
          }
        }
        parsed_bytes += bytes + 1;
        if (last == '\r') --bytes;
        Segment long_line = bad_lines_segment(1, next_line, name, too_long_reason(bytes),
                                              options.strict, keep, parser.widths());
        totals.add(long_line);
        if (keep) hand_over(std::move(long_line), parsed_bytes);
        ++next_line;
        if (!found) break;
        std::memmove(cur.data(), cur.data() + rest_at, rest_len);
        fill_limit = buffer_bytes;
        len = fill(in, cur, rest_len, fill_limit, &eof);
        start = 0;
        continue;
      }
      // Read the next buffer (starting with the carried partial line) while this one is parsed
      // and the previous one's rows are taken.
      const size_t carry = text.size() - cut;
      std::memcpy(next.data(), text.data() + cut, carry);
      bool next_eof = eof;
      std::future<size_t> reading;
      if (!eof) {
        fill_limit = std::min(buffer_bytes, std::max(fill_limit * 2, carry + 2 * kMaxLineBytes + 4));
        reading = std::async(std::launch::async, [&in, &next, carry, limit = fill_limit, &next_eof] {
          return fill(in, next, carry, limit, &next_eof);
        });
      }
      try {
        // Its trailing empty lines wait: they are bad lines only if a non-empty line follows.
        uint64_t empties = 0;
        const size_t lines_end = trailing_empty_lines_start(text.substr(0, cut), &empties);
        if (lines_end > 0) {
          flush_empty();
          Segment segment = parse_segment(text.substr(0, lines_end), name, parser, options.strict,
                                          chunk_bytes, next_line, &spare, buffer_bytes, keep);
          next_line += segment.lines;
          totals.add(segment);
          hand_over(std::move(segment), parsed_bytes + lines_end);
        }
        pending_empty += empties;
        parsed_bytes += cut;
      } catch (...) {
        if (reading.valid()) reading.wait();
        if (taking.valid()) taking.wait();
        throw;
      }
      if (eof) break;
      try {
        len = reading.get();
      } catch (...) {
        if (taking.valid()) taking.wait();
        throw;
      }
      eof = next_eof;
      std::swap(cur, next);
      start = 0;
    }
    if (taking.valid()) taking.get();
    totals.check(name);
  } catch (const Error&) {
    if (taking.valid()) taking.wait();
    totals.rethrow_with_hint();
  }
  if (report != nullptr) {
    totals.fill(*report, name);
    report->bytes = in.bytes_read();
    if (in.compression() != Compression::kNone) {
      report->compression = compression_name(in.compression());
      report->compressed_bytes = in.compressed_offset();
    }
    report->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  }
}

}  // namespace

void parse_criteo_stream(InputStream& in, const ParseOptions& options, const RowSink& sink,
                         ParseReport* report) {
  parse_stream(in, options, [&](Segment& s, uint64_t bytes) { sink(s.block.view(), bytes); },
               report);
}

DataBlock parse_criteo_stream(InputStream& in, const ParseOptions& options, ParseReport* report) {
  std::vector<DataBlock> blocks;
  parse_stream(
      in, options,
      [&](Segment& s, uint64_t) {
        if (s.rows > 0) blocks.push_back(std::move(s.block));
      },
      report);
  if (blocks.empty()) {
    const FeatureSchema& schema = options.schema;
    return DataBlock(0, FeatureWidths{schema.numeric_count(), schema.categorical_count(),
                                      schema.multi_hot_count()});
  }
  if (blocks.size() == 1) return std::move(blocks.front());
  std::vector<DataView> views;
  for (const DataBlock& b : blocks) views.push_back(b.view());
  return concatenate(views);
}

}  // namespace shadowsync::data
