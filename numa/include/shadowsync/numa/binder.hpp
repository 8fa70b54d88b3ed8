// Binder: carries out a Plan on the running machine: pins worker and helper threads to their
// PUs and hands out node-local (per group) and interleaved (shared by all groups) memory. On a
// synthetic or XML topology, with an oversubscribed plan, or where hwloc lacks the support,
// everything is a no-op (memory is still valid, just not bound) and the Binder gives its caller
// a warning ("...: threads and memory are not bound") through the WarningSink it was built with;
// it never prints.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shadowsync/core/memory.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"

namespace shadowsync::numa {

// Receives a Binder's warning: one line of text without a trailing newline, e.g. "topology
// 'package:2 core:2' is synthetic, not this machine: threads and memory are not bound".
using WarningSink = std::function<void(std::string_view message)>;

class Binder {
 public:
  // Keeps a reference to `topology` (it must outlive the Binder) and a copy of `plan`. `warn`
  // receives at most one warning per Binder: the reason binding is disabled (from this
  // constructor), or else the first failure to pin a thread or to bind memory (from the thread
  // calling bind_worker / bind_helper or allocating, so a sink shared by Binders used on several
  // threads must be thread-safe). An empty sink drops the warning. Throws Error when the plan was made for
  // another topology or has no groups.
  Binder(const Topology& topology, const Plan& plan, WarningSink warn);
  ~Binder();
  Binder(const Binder&) = delete;
  Binder& operator=(const Binder&) = delete;

  bool binding_enabled() const { return enabled_; }
  // Why binding is disabled ("" when enabled).
  const std::string& disabled_reason() const { return disabled_reason_; }

  // Call from the thread itself: pins it to plan.groups[group].worker_pus[worker] (resp. the
  // group's helper_pu) with hwloc_set_cpubind(HWLOC_CPUBIND_THREAD). A failing call warns (see
  // the constructor) and goes on unpinned. Indexes out of range throw Error.
  void bind_worker(int group, int worker) const;
  void bind_helper(int group) const;

  // Memory bound to the group's node (resp. interleaved over plan.shared_nodes): zero-filled,
  // at least 64-byte (page) aligned, madvise(MADV_HUGEPAGE) for blocks of 2 MiB or more.
  // Thread-safe. When binding is disabled: the same memory, unbound. Resources live as long as
  // the Binder. An out-of-range group throws Error.
  MemoryResource& node_memory(int group);
  MemoryResource& interleaved_memory();

 private:
  void bind_to_pu(int pu, const char* role) const;
  // Passes `message` to warn_ unless this Binder has warned already.
  void warn_once(const std::string& message) const;

  const Topology* topology_;
  Plan plan_;
  WarningSink warn_;
  mutable std::atomic<bool> warned_{false};
  bool enabled_ = false;
  std::string disabled_reason_;
  std::vector<std::unique_ptr<MemoryResource>> node_memory_;
  std::unique_ptr<MemoryResource> interleaved_memory_;
};

}  // namespace shadowsync::numa
