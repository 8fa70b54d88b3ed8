// MemoryResource: where a large buffer (a dense replica, embedding tables, a sync center copy)
// lives. The NUMA layer provides node-local and interleaved resources; default_memory() is plain
// 64-byte-aligned memory with transparent huge pages requested for large blocks.
#pragma once

#include <cstddef>

namespace shadowsync {

class MemoryResource {
 public:
  virtual ~MemoryResource() = default;
  // Returns zero-filled memory of at least `bytes`, aligned to 64 bytes. Throws shadowsync::Error
  // when the allocation fails (the message says how many bytes and where).
  virtual void* allocate(size_t bytes) = 0;
  // Releases memory from allocate() of this resource with the same `bytes`.
  virtual void deallocate(void* pointer, size_t bytes) noexcept = 0;
};

// Plain aligned memory (process-wide singleton, thread-safe).
MemoryResource& default_memory();

}  // namespace shadowsync
