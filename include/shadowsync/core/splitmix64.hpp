// splitmix64 (Steele, Lea & Flood; the constants of Vigna's splitmix64.c): its 64-bit finalizer,
// a bijection with full avalanche, and one step of the generator. The data set's feature hashing,
// the model's initialization and the synthetic generator are built on them, so their values are
// part of every file format and seed: never change them.
#pragma once

#include <cstdint>

namespace shadowsync {

// The splitmix64 / murmur3-style 64-bit finalizer of x (no increment): a bijection.
constexpr uint64_t splitmix64_finalize(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

// The splitmix64 generator's increment (the golden ratio in 64 bits).
inline constexpr uint64_t kSplitmix64Increment = 0x9E3779B97F4A7C15ull;

// One splitmix64 step from state x: the finalizer of x + the increment (the generator's output
// when its state was x; splitmix64_next(0) = 0xE220A8397B1DCDAF).
constexpr uint64_t splitmix64_next(uint64_t x) { return splitmix64_finalize(x + kSplitmix64Increment); }

}  // namespace shadowsync
