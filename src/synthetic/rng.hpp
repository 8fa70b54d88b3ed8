// Deterministic random numbers for the synthetic generator: splitmix64 mixing (core; to derive
// independent streams and hash-based parameters) and a xoshiro256** generator with uniform and
// normal draws. Implemented here rather than with <random> distributions because the latter
// are implementation-defined, and the same seed must give the same bytes everywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "shadowsync/core/splitmix64.hpp"

namespace shadowsync::synthetic {

// Hash of two words (a splitmix64 step of a, xor b, another step); different (a, b) give
// independent-looking outputs.
inline uint64_t hash_pair(uint64_t a, uint64_t b) { return splitmix64_next(splitmix64_next(a) ^ b); }

// Uniform in (-sqrt(3), sqrt(3)) (mean 0, variance 1) from 16 bits of h, lane 0..3.
inline double unit_uniform16(uint64_t h, int lane) {
  const uint64_t bits = (h >> (16 * lane)) & 0xFFFFu;
  return ((static_cast<double>(bits) + 0.5) / 32768.0 - 1.0) * std::numbers::sqrt3;
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : s_) {
      seed += kSplitmix64Increment;
      word = splitmix64_next(seed);
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace shadowsync::synthetic
