// Fuzz target, differential: the Criteo TSV reader (parse_criteo_text) on arbitrary text, split
// into tiny parallel chunks (1 to 64 bytes, from the input's first byte) and as one chunk. Both
// must give the same rows (bit for bit) and the same report, or the same error in strict mode.
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_util.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/core/error.hpp"

using namespace shadowsync;

namespace {

struct Outcome {
  std::optional<DataBlock> block;
  ParseReport report;
  std::string error;  // what() of the shadowsync::Error, when it threw
};

// The one place that turns bytes into rows; swap it for a buffer API if the reader gets another.
Outcome parse(std::string_view text, size_t chunk_bytes, bool strict) {
  ParseOptions options;
  options.hashing = HashingConfig::uniform(1000, 7);
  options.strict = strict;
  options.chunk_bytes = chunk_bytes;
  Outcome outcome;
  try {
    outcome.block = parse_criteo_text(text, "fuzz.tsv", options, &outcome.report);
  } catch (const Error& e) {
    outcome.error = e.what();
  }
  return outcome;
}

void expect_same(const Outcome& chunked, const Outcome& whole, size_t chunk_bytes) {
  const std::string where = " (chunk_bytes " + std::to_string(chunk_bytes) + " vs one chunk)";
  if (chunked.error != whole.error) {
    fuzz::fail("different errors" + where + ": '" + chunked.error + "' vs '" + whole.error + "'");
  }
  if (chunked.block.has_value() != whole.block.has_value()) fuzz::fail("one threw" + where);
  if (!whole.block) return;
  const DataView a = chunked.block->view(), b = whole.block->view();
  if (a.rows != b.rows) fuzz::fail("different row counts" + where);
  if (a.rows > 0 && (std::memcmp(a.labels, b.labels, a.rows * sizeof(float)) != 0 ||
                     std::memcmp(a.numeric, b.numeric, a.rows * kNumNumeric * sizeof(float)) != 0 ||
                     std::memcmp(a.sparse, b.sparse, a.rows * kNumSparse * sizeof(uint32_t)) != 0)) {
    fuzz::fail("different row values" + where);
  }
  const ParseReport &r = chunked.report, &s = whole.report;
  if (r.lines != s.lines || r.rows != s.rows || r.bad_lines != s.bad_lines ||
      r.first_errors != s.first_errors || r.numeric_missing != s.numeric_missing || r.bytes != s.bytes) {
    fuzz::fail("different reports" + where + ":\n" + r.summary() + "\nvs\n" + s.summary());
  }
  if (r.rows != a.rows || r.rows + r.bad_lines + (r.header ? 1 : 0) != r.lines) {
    fuzz::fail("report does not add up");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk_bytes = 1 + (data[0] & 63);
  const bool strict = (data[0] & 64) != 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome chunked = parse(text, chunk_bytes, strict);
  const Outcome whole = parse(text, size_t{1} << 30, strict);
  expect_same(chunked, whole, chunk_bytes);
  return 0;
}
