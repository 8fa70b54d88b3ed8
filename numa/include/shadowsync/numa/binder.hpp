// Binder: carries out a Plan on the running machine: pins worker and sync threads to their PUs
// and hands out node-local (per group) and interleaved (embedding tables) memory. On a synthetic
// or XML topology, with an oversubscribed plan, or where hwloc lacks the support, everything is a
// no-op (memory is still valid, just not bound) and ONE warning line is printed to stderr for the
// whole process ("shadowsync: warning: ...: threads and memory are not bound").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shadowsync/core/memory.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"

namespace shadowsync::numa {

class Binder {
 public:
  // Keeps a reference to `topology` (it must outlive the Binder) and a copy of `plan`.
  Binder(const Topology& topology, const Plan& plan);
  ~Binder();
  Binder(const Binder&) = delete;
  Binder& operator=(const Binder&) = delete;

  bool binding_enabled() const { return enabled_; }
  // Why binding is disabled ("" when enabled).
  const std::string& disabled_reason() const { return disabled_reason_; }

  // Call from the thread itself: pins it to plan.groups[group].worker_pus[worker] (resp. the
  // group's sync_pu) with hwloc_set_cpubind(HWLOC_CPUBIND_THREAD). A failing call warns once per
  // process and goes on unpinned. Indexes out of range throw Error.
  void bind_worker(int group, int worker) const;
  void bind_sync(int group) const;

  // Memory bound to the group's node (resp. interleaved over plan.embedding_nodes): zero-filled,
  // at least 64-byte (page) aligned, madvise(MADV_HUGEPAGE) for blocks of 2 MiB or more.
  // Thread-safe. When binding is disabled: the same memory, unbound. Resources live as long as
  // the Binder. An out-of-range group throws Error.
  MemoryResource& node_memory(int group);
  MemoryResource& interleaved_memory();

 private:
  void bind_to_pu(int pu, const char* role) const;

  const Topology* topology_;
  Plan plan_;
  bool enabled_ = false;
  std::string disabled_reason_;
  std::vector<std::unique_ptr<MemoryResource>> node_memory_;
  std::unique_ptr<MemoryResource> interleaved_memory_;
};

// Prints "shadowsync: warning: <message>" to stderr unless a binding warning was already printed
// by this process; thread-safe. Returns whether it printed.
bool warn_once(const std::string& message);
// Test hook: lets the next warn_once() print again.
void reset_warn_once_for_testing();

}  // namespace shadowsync::numa
