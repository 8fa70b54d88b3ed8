// LineParser (private to src/data): the hot path of the Criteo reader. Parses one line (without
// its line ending) into one row slot: label, 13 transformed numeric values, 26 hashed rows. Every
// value of the slot is written for a good line (missing ones too), so a slot that a bad line
// scribbled on is fully overwritten by the next good line. No allocation; a bad line returns a
// LineError whose message is built only on the (cold) error path by describe().
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

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
  kTooManyFields,
  kIncompleteLastLine,  // set by the reader, not the parser: see criteo_reader.hpp
};

struct LineError {
  BadLine kind = BadLine::kNone;
  int field = 0;  // 0-based field index (0 = label, 1..13 = I1..I13, 14..39 = C1..C26)
  const char* field_begin = nullptr;
  const char* field_end = nullptr;
  const char* line_begin = nullptr;
  const char* line_end = nullptr;
  char delimiter = '\t';  // the field delimiter the line was parsed with

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
    int j = 0;
    for (; j < kNumNumeric; ++j) {
      if (p == e) break;
      ++p;  // the tab ending the previous field
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
    for (; j < kNumNumeric; ++j) {  // absent trailing fields
      numeric[j] = 0.0f;
      missing |= 1u << j;
    }
    int t = 0;
    if (p != e) {
      for (; t < kNumSparse; ++t) {
        if (p == e) break;
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
    }
    for (; t < kNumSparse; ++t) sparse[t] = kMissingRow;
    if (p != e) return fail(error, BadLine::kTooManyFields, kMaxFields, p, e, b, e);
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

}  // namespace shadowsync::data
