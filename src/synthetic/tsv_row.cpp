// append_tsv_row (see tsv_row.hpp): std::to_chars for integers, a nibble table for hex.
#include "tsv_row.hpp"

#include <charconv>

#include "scramble.hpp"

namespace shadowsync::synthetic {

void append_tsv_row(std::string& out, int label, const RawRow& row) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Longest line: 1 + 13 * (1 + 20) + 26 * 9 + 1 characters.
  char buffer[512];
  char* p = buffer;
  *p++ = label ? '1' : '0';
  for (int j = 0; j < kNumNumeric; ++j) {
    *p++ = '\t';
    if (!row.numeric_missing[j]) p = std::to_chars(p, buffer + sizeof buffer, row.numeric[j]).ptr;
  }
  for (int c = 0; c < kNumSparse; ++c) {
    *p++ = '\t';
    if (row.rank[c] != 0) {
      const uint32_t value = categorical_value(c, row.rank[c]);
      for (int shift = 28; shift >= 0; shift -= 4) *p++ = kHex[(value >> shift) & 0xF];
    }
  }
  *p++ = '\n';
  out.append(buffer, p);
}

}  // namespace shadowsync::synthetic
