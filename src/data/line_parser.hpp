// LineParser and SchemaLineParser (private to src/data): the per-line parsers of the text reader.
// LineParser is the hot path of Criteo's layout (FeatureSchema::criteo()): one line (without its
// line ending) into one row slot: label, 13 transformed numeric values, 26 hashed rows.
// SchemaLineParser reads a line of any schema (feature_schema.hpp), multi-hot lists included.
// Every value of the slot is written for a good line (missing ones too), so a slot that a bad
// line scribbled on is fully overwritten by the next good line. A line whose field count is not
// the schema's is bad ("wrong number of fields: N, the schema has M"). No allocation in
// LineParser; a bad line returns a LineError whose message is built only on the (cold) error path
// by describe().
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/feature_transform.hpp"

namespace shadowsync::data {

enum class BadLine : uint8_t {
  kNone,
  kEmpty,
  kTooLong,
  kNul,
  kLabel,
  kIntSyntax,
  kIntRange,
  kHexSyntax,
  kHexTooLong,
  kFieldCount,          // fewer or more fields than the schema has
  kNumberSyntax,        // an Identity numeric field that is not a decimal number
  kNumberRange,         // an Identity numeric field that is not finite or |x| >= 1e30
  kEmptyItem,           // an empty item in a multi-hot list ("a||b")
  kListTooLong,         // a multi-hot list longer than max_length with OverlongLists::Refuse
  kIncompleteLastLine,  // set by the reader, not the parser: see criteo_reader.hpp
};

struct LineError {
  BadLine kind = BadLine::kNone;
  int field = 0;  // 0-based field index (Criteo: 0 = label, 1..13 = I1..I13, 14..39 = C1..C26)
  const char* field_begin = nullptr;
  const char* field_end = nullptr;
  const char* line_begin = nullptr;
  const char* line_end = nullptr;
  char delimiter = '\t';  // the field delimiter the line was parsed with
  int expected_fields = kMaxFields;  // the schema's field count
  const FeatureSchema* schema = nullptr;  // names the fields; null: Criteo's names
  uint64_t items = 0;                     // kListTooLong: the list's length

  // The reason part of "file:line: reason".
  std::string describe() const;
};

// The reason of a line longer than kMaxLineBytes (`bytes` without its line ending).
std::string too_long_reason(size_t bytes);

// Hex digit values; 0xFF for a non-hex byte.
struct HexTable {
  uint8_t value[256];
  constexpr HexTable() : value() {
    for (int c = 0; c < 256; ++c) value[c] = 0xFF;
    for (int c = '0'; c <= '9'; ++c) value[c] = static_cast<uint8_t>(c - '0');
    for (int c = 'a'; c <= 'f'; ++c) value[c] = static_cast<uint8_t>(c - 'a' + 10);
    for (int c = 'A'; c <= 'F'; ++c) value[c] = static_cast<uint8_t>(c - 'A' + 10);
  }
};
inline constexpr HexTable kHex{};

class LineParser {
 public:
  // `delimiter` separates fields (tab for TSV, ',' for CSV; see ParseOptions::delimiter).
  LineParser(const CategoryHasher& hasher, const NumericTransform& numeric, char delimiter = '\t')
      : hasher_(hasher), numeric_transform_(numeric), delim_(delimiter) {}
  char delimiter() const { return delim_; }

  // Parses [b, e) into the slot. Returns true for a good line and ORs the missing numeric
  // columns into *missing_mask (bit j = I(j+1)); false with *error filled for a bad line.
  bool parse(const char* b, const char* e, float* label, float* numeric, uint32_t* sparse,
             uint32_t* missing_mask, LineError* error) const {
    if (b == e) return fail(error, BadLine::kEmpty, 0, b, e, b, e);
    if (static_cast<size_t>(e - b) > kMaxLineBytes) {
      return fail(error, BadLine::kTooLong, 0, b, e, b, e);
    }
    const char* p = b;
    if ((*p != '0' && *p != '1') || (p + 1 != e && p[1] != delim_)) {
      return fail_at(error, BadLine::kLabel, 0, p, b, e);
    }
    *label = static_cast<float>(*p - '0');
    ++p;
    uint32_t missing = 0;
    for (int j = 0; j < kNumNumeric; ++j) {
      if (p == e) return fail(error, BadLine::kFieldCount, 0, b, e, b, e);
      ++p;  // the delimiter ending the previous field
      if (p == e || *p == delim_) {
        numeric[j] = 0.0f;
        missing |= 1u << j;
        continue;
      }
      const char* start = p;
      const bool negative = *p == '-';
      p += negative;
      const char* digits = p;
      uint64_t v = 0;
      while (p != e && static_cast<unsigned>(*p - '0') < 10u) {
        v = v * 10 + static_cast<unsigned>(*p - '0');
        ++p;
      }
      if (p == digits || (p != e && *p != delim_)) {
        return fail_at(error, BadLine::kIntSyntax, 1 + j, start, b, e);
      }
      int64_t x;
      if (p - digits <= 18) {
        x = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
      } else {  // maybe beyond int64: let from_chars decide
        const auto [end, ec] = std::from_chars(start, p, x);
        if (ec != std::errc() || end != p) {
          return fail_at(error, BadLine::kIntRange, 1 + j, start, b, e);
        }
      }
      numeric[j] = numeric_transform_(x);
    }
    for (int t = 0; t < kNumSparse; ++t) {
      if (p == e) return fail(error, BadLine::kFieldCount, 0, b, e, b, e);
      ++p;
      if (p == e || *p == delim_) {
        sparse[t] = kMissingRow;
        continue;
      }
      const char* start = p;
      uint32_t v = 0;
      while (p != e) {
        const uint8_t d = kHex.value[static_cast<unsigned char>(*p)];
        if (d > 15) break;
        v = (v << 4) | d;
        ++p;
      }
      if (p != e && *p != delim_) {
        return fail_at(error, BadLine::kHexSyntax, 1 + kNumNumeric + t, start, b, e);
      }
      if (p - start > 8) {
        return fail_at(error, BadLine::kHexTooLong, 1 + kNumNumeric + t, start, b, e);
      }
      sparse[t] = hasher_.row(t, v);
    }
    if (p != e) return fail(error, BadLine::kFieldCount, 0, b, e, b, e);
    *missing_mask |= missing;
    return true;
  }

 private:
  bool fail(LineError* error, BadLine kind, int field, const char* fb, const char* fe,
            const char* b, const char* e) const {
    // A NUL byte makes some field fail; report it as such, whatever field noticed.
    if (kind != BadLine::kEmpty && kind != BadLine::kTooLong &&
        std::memchr(b, '\0', static_cast<size_t>(e - b)) != nullptr) {
      kind = BadLine::kNul;
    }
    *error = LineError{kind, field, fb, fe, b, e, delim_};
    return false;
  }
  // A failure in the field starting at `fb`: the field runs to the next delimiter or the line end.
  bool fail_at(LineError* error, BadLine kind, int field, const char* fb, const char* b,
               const char* e) const {
    const void* tab = std::memchr(fb, delim_, static_cast<size_t>(e - fb));
    return fail(error, kind, field, fb, tab ? static_cast<const char*>(tab) : e, b, e);
  }

  const CategoryHasher& hasher_;
  const NumericTransform& numeric_transform_;
  char delim_;
};

// The line parser of any schema (the reader uses LineParser for Criteo's layout, which reads it
// the same way, faster). Row slot: label, numeric[N], sparse[S] (feature order:
// feature_schema.hpp); multi-hot feature m's ids are appended to `ids` (rows of table S + m) and
// ends[m] set to ids.size() after them. A bad line may have appended ids: the caller truncates
// `ids` back. missing[j] is set to 1 for each missing numeric feature j (and 0 otherwise);
// *cut is set when a list was cut to its max_length.
class SchemaLineParser {
 public:
  // Error naming field("schema") when a multi-hot separator is the field delimiter.
  SchemaLineParser(const FeatureSchema& schema, const CategoryHasher& hasher,
                   const NumericTransform& numeric, char delimiter);
  char delimiter() const { return delim_; }
  const FeatureSchema& schema() const { return schema_; }

  bool parse(const char* b, const char* e, float* label, float* numeric, uint32_t* sparse,
             std::vector<uint32_t>& ids, uint64_t* ends, uint8_t* missing, bool* cut,
             LineError* error) const;

 private:
  struct Column {
    ColumnKind kind;
    NumericTransformKind transform;
    int index;  // numeric feature j, table t (multi-hot: S + m) or multi-hot feature m
    int multi;  // multi-hot feature m
    char separator;
    uint32_t max_length;
  };
  bool fail(LineError* error, BadLine kind, int field, const char* fb, const char* fe,
            const char* b, const char* e) const;
  // The 32-bit value of a categorical field or list item [p, q) (non-empty): false for a bad hex id.
  bool category_value(const char* p, const char* q, uint32_t* value, BadLine* kind) const;

  FeatureSchema schema_;
  std::vector<Column> columns_;
  const CategoryHasher& hasher_;
  const NumericTransform& numeric_transform_;
  char delim_;
  bool hex_ids_;
  bool refuse_overlong_;
};

}  // namespace shadowsync::data
