// MappedMemory: a MemoryResource of anonymous mmap()ed blocks (zero-filled, page aligned, 2 MiB
// aligned and madvise(MADV_HUGEPAGE)d when large), optionally bound to a NUMA nodeset with an
// hwloc policy (bind to one node, or interleave) before the first touch; a failure to bind goes
// to the `warn` callback and the memory is used unbound. Private to numa.
#pragma once

#include <hwloc.h>

#include <functional>
#include <string>
#include <vector>

#include "hwloc_util.hpp"
#include "shadowsync/core/memory.hpp"

namespace shadowsync::numa::detail {

class MappedMemory final : public MemoryResource {
 public:
  // bind == false: plain memory (the fallback when binding is disabled); `topology` unused then.
  // `warn` gets "cannot bind NAME (REASON); memory is not bound" from allocate() (any thread).
  MappedMemory(hwloc_topology_t topology, const std::vector<int>& nodes,
               hwloc_membind_policy_t policy, bool bind, std::string name,
               std::function<void(const std::string&)> warn);
  void* allocate(size_t bytes) override;
  void deallocate(void* pointer, size_t bytes) noexcept override;

 private:
  hwloc_topology_t topology_;
  Bitmap nodeset_;
  hwloc_membind_policy_t policy_;
  bool bind_;
  std::string name_;  // for messages, e.g. "node 1 memory"
  std::function<void(const std::string&)> warn_;
};

// The mapped size of an allocation of `bytes` (what deallocate() unmaps).
size_t mapped_size(size_t bytes);

}  // namespace shadowsync::numa::detail
