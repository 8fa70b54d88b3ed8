// The fixed bijection between a categorical id's Zipf rank and the 32-bit value written as 8
// hex digits, so that written values look random (like Criteo's hashed strings) while the
// teacher (and the tests) can recover the rank from the text.
#pragma once

#include <cstdint>

namespace shadowsync::synthetic {

// lowbias32 (C. Wellons' hash-prospector): xor-shifts and odd multiplications, a bijection of
// the 32-bit integers, and its exact inverse.
inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

inline uint32_t unmix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x43021123U;
  x ^= x >> 15 ^ x >> 30;
  x *= 0x1d69e2a5U;
  x ^= x >> 16;
  return x;
}

// Value written for rank (1-based) of categorical column `column` (0..25), and back. Each
// column is offset so that equal ranks of different columns give different values.
inline uint32_t categorical_value(int column, uint32_t rank) {
  return mix32(rank + static_cast<uint32_t>(column) * 0x9E3779B9U);
}
inline uint32_t categorical_rank(int column, uint32_t value) {
  return unmix32(value) - static_cast<uint32_t>(column) * 0x9E3779B9U;
}

}  // namespace shadowsync::synthetic
