// Checksum64: four independent 64-bit multiply-rotate lanes over 32-byte blocks (so the CPU keeps
// them in flight together), folded with the tail and the length, then a final avalanche.
#include "core/checksum.hpp"

#include <cstring>

namespace shadowsync {
namespace {

constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t mix(uint64_t acc, uint64_t input) {
  acc += input * kPrime2;
  acc = rotl(acc, 31);
  return acc * kPrime1;
}

inline uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

Checksum64::Checksum64(uint64_t seed)
    : lanes_{seed + kPrime1 + kPrime2, seed + kPrime2, seed, seed - kPrime1} {}

void Checksum64::consume_block(const unsigned char* block) {
  for (int k = 0; k < 4; ++k) lanes_[k] = mix(lanes_[k], load64(block + 8 * k));
}

void Checksum64::update(const void* data, size_t bytes) {
  if (bytes == 0) return;  // an empty part may come with a null pointer (memcpy must not see it)
  const auto* p = static_cast<const unsigned char*>(data);
  total_bytes_ += bytes;
  if (pending_bytes_ > 0) {
    const size_t take = bytes < 32 - pending_bytes_ ? bytes : 32 - pending_bytes_;
    std::memcpy(pending_ + pending_bytes_, p, take);
    pending_bytes_ += take;
    p += take;
    bytes -= take;
    if (pending_bytes_ < 32) return;
    consume_block(pending_);
    pending_bytes_ = 0;
  }
  for (; bytes >= 32; p += 32, bytes -= 32) consume_block(p);
  std::memcpy(pending_, p, bytes);
  pending_bytes_ = bytes;
}

uint64_t Checksum64::digest() const {
  uint64_t h = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
  size_t i = 0;
  for (; i + 8 <= pending_bytes_; i += 8) h = mix(h, load64(pending_ + i)) ^ kPrime1;
  for (; i < pending_bytes_; ++i) h = (h ^ (pending_[i] * kPrime2)) * kPrime1;
  h ^= total_bytes_;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

uint64_t checksum64(const void* data, size_t bytes, uint64_t seed) {
  Checksum64 sum(seed);
  sum.update(data, bytes);
  return sum.digest();
}

}  // namespace shadowsync
