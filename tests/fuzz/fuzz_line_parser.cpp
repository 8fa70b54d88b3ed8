// Fuzz target: the TSV line parser (src/data/line_parser.hpp) on one line of arbitrary bytes.
// A good line must give a well-formed row (label 0/1, numeric finite and >= 0, sparse rows inside
// their tables, exactly 40 fields); a bad line must name a kind, a field inside the line and a describable reason.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>

#include "data/line_parser.hpp"
#include "fuzz_util.hpp"

using namespace shadowsync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const HashingConfig hashing = HashingConfig::uniform(1000, 7);
  static const CategoryHasher hasher(hashing);
  static const NumericTransform transform;
  const data::LineParser parser(hasher, transform);

  // The line in an exact-size buffer, so that ASan catches a read past its end.
  std::unique_ptr<char[]> line(new char[size]);
  if (size > 0) std::memcpy(line.get(), data, size);
  const char* b = line.get();
  const char* e = b + size;

  float label = -1.0f;
  float numeric[kNumNumeric];
  uint32_t sparse[kNumSparse];
  uint32_t missing = 0;
  data::LineError error;
  if (parser.parse(b, e, &label, numeric, sparse, &missing, &error)) {
    if (label != 0.0f && label != 1.0f) fuzz::fail("good line with a label other than 0/1");
    for (int j = 0; j < kNumNumeric; ++j) {
      if (!std::isfinite(numeric[j]) || numeric[j] < 0.0f) fuzz::fail("good line with a bad numeric value");
      if ((missing >> j & 1u) != 0 && numeric[j] != 0.0f) fuzz::fail("missing numeric value is not 0");
    }
    for (int t = 0; t < kNumSparse; ++t) {
      if (sparse[t] >= hashing.rows[t]) fuzz::fail("good line with a sparse row outside its table");
    }
    if (std::memchr(b, '\0', size) != nullptr) fuzz::fail("good line containing a NUL byte");
    if (std::count(b, e, '\t') != kMaxFields - 1) fuzz::fail("good line without the schema's 40 fields");
  } else {
    if (error.kind == data::BadLine::kNone) fuzz::fail("bad line without an error kind");
    if (error.line_begin != b || error.line_end != e) fuzz::fail("error does not point at the line");
    if (error.field < 0 || error.field > kMaxFields) fuzz::fail("error field out of range");
    if (error.field_begin < b || error.field_end > e || error.field_begin > error.field_end) {
      fuzz::fail("error field is not inside the line");
    }
    if (error.describe().empty()) fuzz::fail("bad line with an empty reason");
  }
  return 0;
}
