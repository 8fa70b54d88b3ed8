// Fuzz target, differential: the stream reader (InputStream + parse_criteo_stream). The first
// byte picks the mode: bit 0 strict; bits 1-2: 0 = the rest is fed as is (arbitrary bytes: maybe
// a broken gzip / zstd stream, which must give a shadowsync::Error, never a crash or hang; with
// no compression magic it must parse like parse_criteo_text), 1 = the rest is gzip-compressed
// first, 2 = zstd-compressed first, 3 = gzip-compressed in two members. Compressed text must give
// the same rows, report and error as parse_criteo_text of the text.
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "data/input_stream.hpp"
#include "data/stream_parse.hpp"
#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/criteo_reader.hpp"

using namespace shadowsync;

namespace {

struct Outcome {
  std::optional<DataBlock> block;
  ParseReport report;
  std::string error;
};

ParseOptions parse_options(bool strict) {
  ParseOptions options;
  options.hashing = HashingConfig::uniform(1000, 7);
  options.strict = strict;
  options.chunk_bytes = 16;
  options.stream_buffer_bytes = 1;
  return options;
}

Outcome parse_text(std::string_view text, bool strict) {
  Outcome o;
  try {
    o.block = parse_criteo_text(text, "fuzz", parse_options(strict), &o.report);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

Outcome parse_stream(std::string_view bytes, bool strict) {
  Outcome o;
  try {
    const auto in = data::InputStream::from_memory(bytes, "fuzz");
    o.block = data::parse_criteo_stream(*in, parse_options(strict), &o.report);
  } catch (const Error& e) {
    o.error = e.what();
  }
  return o;
}

std::string gzip(std::string_view text) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fuzz::fail("zlib");
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) fuzz::fail("deflate did not finish");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string zstd(std::string_view text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 1);
  if (ZSTD_isError(n)) fuzz::fail("zstd compress failed");
  out.resize(n);
  return out;
}

void expect_same(const Outcome& a, const Outcome& b, const char* mode) {
  const std::string where = std::string(" (") + mode + " stream vs text)";
  if (a.error != b.error) fuzz::fail("different errors" + where + ": '" + a.error + "' vs '" + b.error + "'");
  if (a.block.has_value() != b.block.has_value()) fuzz::fail("one threw" + where);
  if (!a.block) return;
  const DataView x = a.block->view(), y = b.block->view();
  if (x.rows != y.rows) fuzz::fail("different row counts" + where);
  if (x.rows > 0 && (std::memcmp(x.labels, y.labels, x.rows * sizeof(float)) != 0 ||
                     std::memcmp(x.numeric, y.numeric, x.rows * kNumNumeric * sizeof(float)) != 0 ||
                     std::memcmp(x.sparse, y.sparse, x.rows * kNumSparse * sizeof(uint32_t)) != 0)) {
    fuzz::fail("different row values" + where);
  }
  const ParseReport &r = a.report, &s = b.report;
  if (r.lines != s.lines || r.rows != s.rows || r.bad_lines != s.bad_lines || r.header != s.header ||
      r.first_errors != s.first_errors || r.numeric_missing != s.numeric_missing || r.bytes != s.bytes) {
    fuzz::fail("different reports" + where + ":\n" + r.summary() + "\nvs\n" + s.summary());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool strict = (data[0] & 1) != 0;
  const int mode = (data[0] >> 1) & 3;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode) {
    case 0: {
      const Outcome stream = parse_stream(rest, strict);  // must not crash; errors are Errors
      if (data::detect_compression(rest) == data::Compression::kNone) {
        expect_same(stream, parse_text(rest, strict), "plain");
      }
      break;
    }
    case 1: expect_same(parse_stream(gzip(rest), strict), parse_text(rest, strict), "gzip"); break;
    case 2: expect_same(parse_stream(zstd(rest), strict), parse_text(rest, strict), "zstd"); break;
    default: {
      const std::string two = gzip(rest.substr(0, rest.size() / 2)) + gzip(rest.substr(rest.size() / 2));
      expect_same(parse_stream(two, strict), parse_text(rest, strict), "two-member gzip");
      break;
    }
  }
  return 0;
}
