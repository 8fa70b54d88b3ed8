// Fuzz target, differential: the text reader under a random FeatureSchema. The input's first
// bytes make the schema and the options, the rest is the text:
//   byte 0: chunk size (low 6 bits + 1), bit 6 strict, bit 7 keep_bad_lines;
//   byte 1: column count (low 3 bits + 2), label column (high 4 bits, modulo the count);
//   byte 2: bit 0 hex ids, bit 1 header, bit 2 overlong lists refused, bit 3 ',' as delimiter;
//   one byte per column: kind (low 2 bits: numeric, categorical, multi-hot, ignored), bit 2
//   identity transform, bits 3-4 the list separator ('|', ';', ' ', ','), bits 5-6 max_length - 1.
// Columns are named c0, c1, ... The text is parsed in tiny chunks, as one chunk, and as a stream
// (unless it starts with a compression magic):
// all must give the same rows, lists, report or error; the rows must pass validate_view.
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
#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/feature_schema.hpp"

using namespace shadowsync;

namespace {

struct Outcome {
  std::optional<DataBlock> block;
  ParseReport report;
  std::string error;
};

Outcome parse_buffer(std::string_view text, const ParseOptions& options, size_t chunk_bytes) {
  Outcome outcome;
  try {
    outcome.block = parse_criteo_buffer(text, "fuzz.tsv", options, chunk_bytes, &outcome.report);
  } catch (const Error& e) {
    outcome.error = e.what();
  }
  return outcome;
}

Outcome parse_stream(std::string_view text, const ParseOptions& options) {
  Outcome outcome;
  try {
    const auto in = data::InputStream::from_memory(text, "fuzz.tsv");
    outcome.block = data::parse_criteo_stream(*in, options, &outcome.report);
  } catch (const Error& e) {
    outcome.error = e.what();
  }
  return outcome;
}

template <class T>
bool same_array(const T* a, const T* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;
}

void expect_same(const Outcome& x, const Outcome& y, const std::string& what) {
  if (x.error != y.error) fuzz::fail("different errors (" + what + "): '" + x.error + "' vs '" + y.error + "'");
  if (x.block.has_value() != y.block.has_value()) fuzz::fail("one threw (" + what + ")");
  if (!x.block) return;
  const DataView a = x.block->view(), b = y.block->view();
  if (a.rows != b.rows || a.widths() != b.widths()) fuzz::fail("different rows or widths (" + what + ")");
  const size_t n = size_t(a.numeric_width), s = size_t(a.sparse_width), m = size_t(a.multi_hot);
  if (!same_array(a.labels, b.labels, a.rows) || !same_array(a.numeric, b.numeric, a.rows * n) ||
      !same_array(a.sparse, b.sparse, a.rows * s)) {
    fuzz::fail("different row values (" + what + ")");
  }
  if (m > 0) {
    for (size_t k = 0; k <= a.rows * m; ++k) {
      if (a.bag_offsets[k] - a.bag_offsets[0] != b.bag_offsets[k] - b.bag_offsets[0]) {
        fuzz::fail("different list offsets (" + what + ")");
      }
    }
    const uint64_t ids = a.bag_offsets[a.rows * m] - a.bag_offsets[0];
    if (!same_array(a.bag_ids + a.bag_offsets[0], b.bag_ids + b.bag_offsets[0], ids)) {
      fuzz::fail("different list ids (" + what + ")");
    }
  }
  const ParseReport &r = x.report, &q = y.report;
  if (r.lines != q.lines || r.rows != q.rows || r.bad_lines != q.bad_lines || r.header != q.header ||
      r.first_errors != q.first_errors || r.numeric_missing != q.numeric_missing ||
      r.lists_cut != q.lists_cut || r.bad_rows != q.bad_rows || r.bytes != q.bytes) {
    fuzz::fail("different reports (" + what + "):\n" + r.summary() + "\nvs\n" + q.summary());
  }
  if (r.rows != a.rows || r.numeric_missing.size() != n) fuzz::fail("report does not match the rows");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int columns = 2 + (data[1] & 7);
  if (size < 3 + size_t(columns)) return 0;
  const int label = (data[1] >> 4) % columns;
  FeatureSchema schema;
  schema.hex_ids = (data[2] & 1) != 0;
  schema.header = (data[2] & 2) != 0;
  schema.overlong = (data[2] & 4) != 0 ? OverlongLists::Refuse : OverlongLists::Cut;
  static constexpr char kSeparators[4] = {'|', ';', ' ', ','};
  for (int c = 0; c < columns; ++c) {
    const uint8_t b = data[3 + c];
    SchemaColumn col;
    col.name = "c" + std::to_string(c);
    static constexpr ColumnKind kKinds[4] = {ColumnKind::Numeric, ColumnKind::Categorical,
                                             ColumnKind::MultiHot, ColumnKind::Ignored};
    col.kind = c == label ? ColumnKind::Label : kKinds[b & 3];
    col.transform = (b & 4) != 0 ? NumericTransformKind::Identity : NumericTransformKind::Log1p;
    col.separator = kSeparators[(b >> 3) & 3];
    col.max_length = 1 + ((b >> 5) & 3);
    schema.columns.push_back(col);
  }
  try {
    schema.validate("fuzz schema");
  } catch (const Error&) {
    return 0;  // e.g. no feature column: not a schema a reader is given
  }
  ParseOptions options;
  options.schema = schema;
  options.hashing = HashingConfig::uniform(50, 3, schema.table_count());
  options.strict = (data[0] & 64) != 0;
  options.keep_bad_lines = (data[0] & 128) != 0;
  options.delimiter = (data[2] & 8) != 0 ? ',' : '\t';
  options.stream_buffer_bytes = 1;
  options.chunk_bytes = 16;
  const size_t chunk_bytes = 1 + (data[0] & 63);
  const std::string_view text(reinterpret_cast<const char*>(data) + 3 + columns, size - 3 - size_t(columns));

  const Outcome whole = parse_buffer(text, options, size_t{1} << 30);
  expect_same(parse_buffer(text, options, chunk_bytes), whole, "chunk_bytes " + std::to_string(chunk_bytes));
  // A stream decompresses text with a compression magic (fuzz_compressed_reader's subject).
  if (!text.empty() && data::detect_compression(text) == data::Compression::kNone) {
    expect_same(parse_stream(text, options), whole, "stream");
  }
  if (whole.block) {
    try {
      validate_view(whole.block->view(), schema, options.hashing, "fuzz");
    } catch (const Error& e) {
      fuzz::fail(std::string("parsed rows fail validate_view: ") + e.what());
    }
  }
  return 0;
}
