// MappedMemory: node-bound / interleaved / plain mmap()ed blocks (see node_memory.hpp).
#include "node_memory.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "shadowsync/core/error.hpp"

namespace shadowsync::numa::detail {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t page_size() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

size_t round_up(size_t value, size_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

size_t mapped_size(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes, page_size());
  return size >= kHugePage ? round_up(size, kHugePage) : size;
}

MappedMemory::MappedMemory(hwloc_topology_t topology, const std::vector<int>& nodes,
                           hwloc_membind_policy_t policy, bool bind, std::string name,
                           std::function<void(const std::string&)> warn)
    : topology_(topology),
      nodeset_(bitmap_of(nodes)),
      policy_(policy),
      bind_(bind),
      name_(std::move(name)),
      warn_(std::move(warn)) {}

void* MappedMemory::allocate(size_t bytes) {
  if (bytes > (size_t{1} << 46)) {
    throw Error(fmt::format("{}: cannot allocate {} bytes (too large)", name_, bytes));
  }
  const size_t size = mapped_size(bytes);
  const size_t slack = size >= kHugePage ? kHugePage : 0;
  void* mapped = mmap(nullptr, size + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) {
    throw Error(fmt::format("{}: cannot allocate {} bytes ({})", name_, bytes, std::strerror(errno)));
  }
  auto* begin = static_cast<char*>(mapped);
  char* block = begin;
  if (slack > 0) {
    // Keep a 2 MiB-aligned window so that the block can be backed by transparent huge pages.
    block = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(begin), kHugePage));
    if (block > begin) munmap(begin, static_cast<size_t>(block - begin));
    char* end = begin + size + slack;
    if (end > block + size) munmap(block + size, static_cast<size_t>(end - (block + size)));
    madvise(block, size, MADV_HUGEPAGE);  // advisory only: failure is harmless
  }
  if (bind_ &&
      hwloc_set_area_membind(topology_, block, size, nodeset_.get(), policy_,
                             HWLOC_MEMBIND_BYNODESET) != 0) {
    if (warn_) warn_(fmt::format("cannot bind {} ({}); memory is not bound", name_, std::strerror(errno)));
  }
  return block;  // fresh anonymous pages read as zero; the first touch places them by the policy
}

void MappedMemory::deallocate(void* pointer, size_t bytes) noexcept {
  if (pointer != nullptr) munmap(pointer, mapped_size(bytes));
}

}  // namespace shadowsync::numa::detail
