// Feature transforms of the DLRM convention: numeric integers -> log(1 + max(x, 0)); categorical
// 32-bit values -> a row of their embedding table through a 64-bit mixer of (value, table, salt).
//
// Contracts:
//   transform_numeric(x)      = (float) log1p(max(x, 0)) computed in double; a missing value is 0
//                             (the caller stores 0.0f, this function is never asked).
//   category_hash(v, t, s)  = F(v XOR table_key(t, s)), where table_key(t, s) =
//                             F(s XOR (t + 1) * 0x9E3779B97F4A7C15) and F is the
//                             splitmix64 finalizer (splitmix64_finalize, core/splitmix64.hpp). For a fixed (t, s) it is a bijection
//                             of v, and each table gets its own key, so equal values in different
//                             columns land on unrelated rows. These numbers are part of the cache
//                             and checkpoint contract: changing them invalidates all stored data.
//   CategoryHasher::row(t, v) = 1 + floor(category_hash(v, t, salt) * (rows[t] - 1) / 2^64),
//                             always in 1..rows[t]-1; row 0 (kMissingRow) is a missing value.
//   string_id(s)            = the low 32 bits of F(FNV-1a-64(bytes of s)): the 32-bit value of a
//                             categorical string (and of a multi-hot item) when the schema's
//                             hex_ids is off (FeatureSchema), hashed like a hex id afterwards
//                             (CategoryHasher::row). FNV-1a-64: offset basis 0xcbf29ce484222325,
//                             prime 0x100000001b3, one byte at a time. Part of the cache contract.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "shadowsync/core/splitmix64.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

inline constexpr uint32_t kMissingRow = 0;


constexpr uint64_t table_key(int table, uint64_t salt) {
  return splitmix64_finalize(salt ^ (static_cast<uint64_t>(table) + 1) * 0x9E3779B97F4A7C15ull);
}

constexpr uint64_t category_hash(uint32_t value, int table, uint64_t salt) {
  return splitmix64_finalize(static_cast<uint64_t>(value) ^ table_key(table, salt));
}

constexpr uint32_t string_id(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return static_cast<uint32_t>(splitmix64_finalize(h));
}

// Maps a 64-bit hash uniformly onto 0..n-1 (multiply-high, no division).
constexpr uint32_t reduce_range(uint64_t hash, uint32_t n) {
  // 64x32 -> 96-bit product, high 64 bits, computed without a 128-bit type.
  const uint64_t lo = (hash & 0xFFFFFFFFull) * n;
  const uint64_t hi = (hash >> 32) * n;
  return static_cast<uint32_t>((hi + (lo >> 32)) >> 32);
}

// log(1 + max(x, 0)) as float; exact same value for every caller (table or not).
inline float transform_numeric(int64_t x) {
  return x > 0 ? static_cast<float>(std::log1p(static_cast<double>(x))) : 0.0f;
}

// Throws shadowsync::Error naming `where` unless every table has at least 2 rows.
void validate_hashing(const HashingConfig& config, const std::string& where);

// Precomputed per-table keys for the hot loop of the parser.
class CategoryHasher {
 public:
  // Validates the config (see validate_hashing) with `where` = "hashing config".
  explicit CategoryHasher(const HashingConfig& config);
  uint32_t row(int table, uint32_t value) const {
    return 1 + reduce_range(splitmix64_finalize(static_cast<uint64_t>(value) ^ keys_[table]), spans_[table]);
  }
  const HashingConfig& config() const { return config_; }

 private:
  HashingConfig config_;
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> spans_;  // rows[t] - 1
};

// Numeric transform of small values from a table, larger ones computed: the parser's hot path.
class NumericTransform {
 public:
  static constexpr int64_t kTableSize = 4096;
  NumericTransform();
  float operator()(int64_t x) const {
    if (x >= 0 && x < kTableSize) return table_[static_cast<size_t>(x)];
    return transform_numeric(x);
  }

 private:
  std::array<float, kTableSize> table_{};
};

}  // namespace shadowsync
