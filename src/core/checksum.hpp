// Checksum64: a fast (several GB/s) non-cryptographic 64-bit checksum of a byte stream, for
// detecting corrupted or truncated files (binary caches, checkpoints). Not for security.
// Feeding the same bytes in any split gives the same digest as one checksum64() call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shadowsync {

class Checksum64 {
 public:
  explicit Checksum64(uint64_t seed = 0);
  void update(const void* data, size_t bytes);
  uint64_t digest() const;

 private:
  void consume_block(const unsigned char* block);
  uint64_t lanes_[4];
  unsigned char pending_[32];
  size_t pending_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

// One-shot form: Checksum64(seed), update(data, bytes), digest().
uint64_t checksum64(const void* data, size_t bytes, uint64_t seed = 0);

}  // namespace shadowsync
