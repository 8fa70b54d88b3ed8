// checksum64: a fast (several GB/s) non-cryptographic 64-bit checksum of a byte range, for
// detecting corrupted or truncated files (binary caches, checkpoints). Not for security.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shadowsync {

// Same bytes, same value, on every run and build. `seed` lets callers chain ranges:
// checksum64(b, nb, checksum64(a, na)) checks a then b.
uint64_t checksum64(const void* data, size_t bytes, uint64_t seed = 0);

}  // namespace shadowsync
