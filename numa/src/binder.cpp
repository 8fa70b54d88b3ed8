// Binder: decides whether binding is possible, pins threads with hwloc_set_cpubind, owns the
// node-local and interleaved memory resources of a plan, and hands its one warning to its sink.
#include "shadowsync/numa/binder.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "hwloc_util.hpp"
#include "node_memory.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

std::string why_not_bindable(const Topology& topology, const Plan& plan) {
  if (!topology.is_this_system()) {
    return fmt::format("topology '{}' is {}, not this machine: threads and memory are not bound",
                       topology.spec(), topology.source().starts_with("XML") ? "an XML file" : "synthetic");
  }
  if (plan.oversubscribed) {
    return "the placement is oversubscribed (PUs are shared): threads and memory are not bound";
  }
  const hwloc_topology_support* support = hwloc_topology_get_support(topology.hwloc());
  if (support == nullptr || !support->cpubind->set_thisthread_cpubind) {
    return "hwloc cannot bind threads on this system: threads and memory are not bound";
  }
  if (!support->membind->set_area_membind || !support->membind->bind_membind) {
    return "hwloc cannot bind memory on this system: threads and memory are not bound";
  }
  for (const GroupPlacement& group : plan.groups) {
    for (int pu : group.worker_pus) {
      if (hwloc_get_pu_obj_by_os_index(topology.hwloc(), static_cast<unsigned>(pu)) == nullptr) {
        return fmt::format("PU {} of the plan is not usable on this machine: threads and memory "
                           "are not bound", pu);
      }
    }
  }
  return "";
}

}  // namespace

Binder::Binder(const Topology& topology, const Plan& plan, WarningSink warn)
    : topology_(&topology), plan_(plan), warn_(std::move(warn)) {
  if (plan.topology_spec != topology.spec()) {
    throw Error(fmt::format("Binder: the plan was made for topology '{}' but the topology is '{}'",
                            plan.topology_spec, topology.spec()));
  }
  if (plan.groups.empty()) throw Error("Binder: the plan has no groups");
  disabled_reason_ = why_not_bindable(topology, plan);
  enabled_ = disabled_reason_.empty();
  if (!enabled_) warn_once(disabled_reason_);
  // The resources live no longer than this Binder (which cannot move), so they may call back.
  const auto warn_memory = [this](const std::string& message) { warn_once(message); };
  for (const GroupPlacement& group : plan_.groups) {
    node_memory_.push_back(std::make_unique<detail::MappedMemory>(
        topology.hwloc(), std::vector<int>{group.numa_node}, HWLOC_MEMBIND_BIND, enabled_,
        fmt::format("node {} memory of group {}", group.numa_node, group.group), warn_memory));
  }
  interleaved_memory_ = std::make_unique<detail::MappedMemory>(
      topology.hwloc(), plan_.shared_nodes, HWLOC_MEMBIND_INTERLEAVE, enabled_,
      fmt::format("memory interleaved over nodes {}", detail::list_string(plan_.shared_nodes)),
      warn_memory);
}

Binder::~Binder() = default;

void Binder::warn_once(const std::string& message) const {
  if (warned_.exchange(true, std::memory_order_acq_rel)) return;
  if (warn_) warn_(message);
}

void Binder::bind_to_pu(int pu, const char* role) const {
  if (!enabled_) return;
  detail::Bitmap set = detail::bitmap_of({pu});
  if (hwloc_set_cpubind(topology_->hwloc(), set.get(), HWLOC_CPUBIND_THREAD) != 0) {
    warn_once(fmt::format("cannot pin the {} thread to PU {} ({}); threads run unpinned", role, pu,
                          std::strerror(errno)));
  }
}

void Binder::bind_worker(int group, int worker) const {
  if (group < 0 || group >= static_cast<int>(plan_.groups.size())) {
    throw Error(fmt::format("Binder::bind_worker: group {} out of range (the plan has {} groups)",
                            group, plan_.groups.size()));
  }
  const GroupPlacement& placement = plan_.groups[static_cast<size_t>(group)];
  if (worker < 0 || worker >= static_cast<int>(placement.worker_pus.size())) {
    throw Error(fmt::format("Binder::bind_worker: worker {} out of range (group {} has {} workers)",
                            worker, group, placement.worker_pus.size()));
  }
  bind_to_pu(placement.worker_pus[static_cast<size_t>(worker)], "worker");
}

void Binder::bind_helper(int group) const {
  if (group < 0 || group >= static_cast<int>(plan_.groups.size())) {
    throw Error(fmt::format("Binder::bind_helper: group {} out of range (the plan has {} groups)",
                            group, plan_.groups.size()));
  }
  bind_to_pu(plan_.groups[static_cast<size_t>(group)].helper_pu, "helper");
}

MemoryResource& Binder::node_memory(int group) {
  if (group < 0 || group >= static_cast<int>(node_memory_.size())) {
    throw Error(fmt::format("Binder::node_memory: group {} out of range (the plan has {} groups)",
                            group, node_memory_.size()));
  }
  return *node_memory_[static_cast<size_t>(group)];
}

MemoryResource& Binder::interleaved_memory() { return *interleaved_memory_; }

}  // namespace shadowsync::numa
