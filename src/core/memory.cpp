// default_memory(): 64-byte-aligned, zero-filled allocations; large blocks are rounded to 2 MiB
// and madvise(MADV_HUGEPAGE)d so that replicas and tables use transparent huge pages.
#include "shadowsync/core/memory.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t rounded_size(size_t bytes) {
  const size_t alignment = bytes >= kHugePage ? kHugePage : 64;
  return (bytes + alignment - 1) / alignment * alignment;
}

class AlignedMemory final : public MemoryResource {
 public:
  void* allocate(size_t bytes) override {
    const size_t size = rounded_size(bytes == 0 ? 64 : bytes);
    const size_t alignment = size >= kHugePage ? kHugePage : 64;
    void* pointer = std::aligned_alloc(alignment, size);
    if (pointer == nullptr) {
      throw Error("default memory: cannot allocate " + std::to_string(bytes) + " bytes");
    }
    if (size >= kHugePage) {
      madvise(pointer, size, MADV_HUGEPAGE);  // advisory only: failure is harmless
    }
    std::memset(pointer, 0, size);
    return pointer;
  }
  void deallocate(void* pointer, size_t) noexcept override { std::free(pointer); }
};

}  // namespace

MemoryResource& default_memory() {
  static AlignedMemory memory;
  return memory;
}

}  // namespace shadowsync
