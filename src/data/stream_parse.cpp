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

// Reads into buf[carry, size) (the caller placed the carry before it); returns the filled
// length and sets *eof when the stream ended before the buffer was full.
size_t fill(InputStream& in, Buffer& buf, size_t carry, bool* eof) {
  const size_t got = in.read_full(buf.data() + carry, buf.size() - carry);
  *eof = carry + got < buf.size();
  return carry + got;
}

void parse_stream(InputStream& in, const ParseOptions& options,
                  const std::function<void(Segment&)>& take, ParseReport* report) {
  const auto started = std::chrono::steady_clock::now();
  const std::string& name = in.name();
  if (options.chunk_bytes == 0) throw Error(name + ": parse option chunk_bytes must be >= 1");
  if (options.stream_buffer_bytes == 0) {
    throw Error(name + ": parse option stream_buffer_bytes must be >= 1");
  }
  validate_hashing(options.hashing, name + ": hashing config");
  const size_t buffer_bytes = std::max(options.stream_buffer_bytes, 2 * kMaxLineBytes + 4);
  const size_t chunk_bytes = pick_chunk_bytes(buffer_bytes, options.chunk_bytes);

  const CategoryHasher hasher(options.hashing);
  const NumericTransform numeric_transform;
  const LineParser parser(hasher, numeric_transform);

  Buffer cur(buffer_bytes), next(buffer_bytes);
  bool eof = false;
  size_t len = fill(in, cur, 0, &eof);
  if (len == 0) throw Error(name + ": empty file (no lines)");
  check_text_format(std::string_view(cur.data(), len), name);

  ParseTotals totals;
  DataBlock spare;
  size_t start = header_line_bytes(std::string_view(cur.data(), len));
  if (start == len && !eof) {
    throw Error(fmt::format("{}:1: header line longer than {} bytes", name, buffer_bytes));
  }
  totals.header = start > 0;
  uint64_t next_line = totals.header ? 1 : 0;  // 0-based number of the line at cur[start]

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
      if (last == '\r') --bytes;
      Segment long_line;
      long_line.lines = 1;
      long_line.bad = 1;
      long_line.errors.push_back(
          fmt::format("{}:{}: {}", name, next_line + 1, too_long_reason(bytes)));
      if (options.strict) throw Error(long_line.errors.front());
      totals.add(long_line);
      ++next_line;
      if (!found) break;
      std::memmove(cur.data(), cur.data() + rest_at, rest_len);
      len = fill(in, cur, rest_len, &eof);
      start = 0;
      continue;
    }
    // Read the next buffer (starting with the carried partial line) while this one is parsed.
    const size_t carry = text.size() - cut;
    std::memcpy(next.data(), text.data() + cut, carry);
    bool next_eof = eof;
    std::future<size_t> reading;
    if (!eof) {
      reading = std::async(std::launch::async,
                           [&in, &next, carry, &next_eof] { return fill(in, next, carry, &next_eof); });
    }
    Segment segment;
    try {
      segment = parse_segment(text.substr(0, cut), name, parser, options.strict, chunk_bytes,
                              next_line, &spare);
    } catch (...) {
      if (reading.valid()) reading.wait();
      throw;
    }
    next_line += segment.lines;
    totals.add(segment);
    try {
      take(segment);
      spare = std::move(segment.block);  // reused by the next buffer unless take kept it
    } catch (...) {
      if (reading.valid()) reading.wait();
      throw;
    }
    if (eof) break;
    len = reading.get();
    eof = next_eof;
    std::swap(cur, next);
    start = 0;
  }
  totals.check(name);
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
  parse_stream(in, options, [&](Segment& s) { sink(s.block.view()); }, report);
}

DataBlock parse_criteo_stream(InputStream& in, const ParseOptions& options, ParseReport* report) {
  std::vector<DataBlock> blocks;
  parse_stream(
      in, options,
      [&](Segment& s) {
        if (s.rows > 0) blocks.push_back(std::move(s.block));
      },
      report);
  if (blocks.size() == 1) return std::move(blocks.front());
  std::vector<DataView> views;
  for (const DataBlock& b : blocks) views.push_back(b.view());
  return concatenate(views);
}

}  // namespace shadowsync::data
