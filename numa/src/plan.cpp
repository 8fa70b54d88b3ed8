// make_plan(): places groups of worker threads, and each group's helper thread, on a Topology;
// picks the node of each group's memory and the nodes of the shared memory.
#include "shadowsync/numa/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "hwloc_util.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

constexpr int kMaxCount = PlacementOptions::kMaxCount;

// One core: the OS indexes of its PUs (SMT siblings) in hwloc's logical order.
using Core = std::vector<int>;

// All cores of the machine in logical order (each PU is a core when there are no core objects).
// One pass over the PUs (looking each PU's core up), not one pass per core: linear in the PUs.
std::vector<Core> machine_cores(hwloc_topology_t topology) {
  const int n_cores = hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_CORE);
  std::vector<Core> cores(static_cast<size_t>(n_cores));
  for (hwloc_obj_t pu = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_PU, nullptr); pu != nullptr;
       pu = hwloc_get_next_obj_by_type(topology, HWLOC_OBJ_PU, pu)) {
    if (n_cores == 0) {
      cores.push_back(Core{static_cast<int>(pu->os_index)});
      continue;
    }
    const hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_CORE, pu);
    if (core != nullptr && core->logical_index < cores.size()) {
      cores[core->logical_index].push_back(static_cast<int>(pu->os_index));
    }
  }
  std::erase_if(cores, [](const Core& core) { return core.empty(); });
  return cores;
}

// The cores of each placement unit (socket or NUMA node) in logical order; units without cores
// (memory-only nodes) are left out.
std::vector<std::vector<Core>> placement_units(const Topology& topology, GroupBy group_by) {
  hwloc_topology_t hw = topology.hwloc();
  const hwloc_obj_type_t type = group_by == GroupBy::Socket ? HWLOC_OBJ_PACKAGE : HWLOC_OBJ_NUMANODE;
  const int n_units = hwloc_get_nbobjs_by_type(hw, type);
  std::vector<std::vector<Core>> units(static_cast<size_t>(std::max(1, n_units)));
  for (Core& core : machine_cores(hw)) {
    size_t unit = 0;
    for (int u = 0; u < n_units; ++u) {
      hwloc_obj_t obj = hwloc_get_obj_by_type(hw, type, static_cast<unsigned>(u));
      if (obj->cpuset != nullptr && hwloc_bitmap_isset(obj->cpuset, static_cast<unsigned>(core[0]))) {
        unit = static_cast<size_t>(u);
        break;
      }
    }
    units[unit].push_back(std::move(core));
  }
  std::erase_if(units, [](const std::vector<Core>& unit) { return unit.empty(); });
  return units;
}

// A group's share: its cores, and from which SMT sibling rank its workers start.
struct Share {
  std::vector<Core> cores;
  int first_rank = 0;
};

std::vector<Share> divide(const std::vector<std::vector<Core>>& units, int groups) {
  const int n_units = static_cast<int>(units.size());
  std::vector<Share> shares(static_cast<size_t>(groups));
  if (groups <= n_units) {
    // Fewer groups than units: group g takes whole units [g*U/G, (g+1)*U/G).
    for (int g = 0; g < groups; ++g) {
      for (int u = g * n_units / groups; u < (g + 1) * n_units / groups; ++u) {
        for (const Core& core : units[static_cast<size_t>(u)]) shares[static_cast<size_t>(g)].cores.push_back(core);
      }
    }
    return shares;
  }
  // Round-robin over units; the cores of a unit are split into contiguous blocks between its
  // groups, or (more groups than cores) each group gets one core, later groups a later sibling.
  for (int g = 0; g < groups; ++g) {
    const int u = g % n_units;
    const int j = g / n_units;                               // index of the group in its unit
    const int k = (groups - u + n_units - 1) / n_units;      // groups on unit u
    const std::vector<Core>& cores = units[static_cast<size_t>(u)];
    const int n = static_cast<int>(cores.size());
    Share& share = shares[static_cast<size_t>(g)];
    if (k <= n) {
      for (int c = j * n / k; c < (j + 1) * n / k; ++c) share.cores.push_back(cores[static_cast<size_t>(c)]);
    } else {
      share.cores.push_back(cores[static_cast<size_t>(j % n)]);
      share.first_rank = j / n;
    }
  }
  return shares;
}

// The share's PUs in worker order: one PU per core first, then the next SMT siblings.
std::vector<int> worker_order(const Share& share) {
  size_t max_siblings = 0;
  for (const Core& core : share.cores) max_siblings = std::max(max_siblings, core.size());
  std::vector<int> order;
  for (size_t r = 0; r < max_siblings; ++r) {
    const size_t rank = (r + static_cast<size_t>(share.first_rank)) % max_siblings;
    for (const Core& core : share.cores) {
      if (rank < core.size()) order.push_back(core[rank]);
    }
  }
  return order;
}

void check_count(std::string_view field_name, int value) {
  if (value < 0 || value > kMaxCount) {
    throw Error(fmt::format("{} must be 'auto' (0) or a positive integer up to {}, got {}",
                            field(field_name), kMaxCount, value));
  }
}

}  // namespace

const char* to_string(GroupBy group_by) { return group_by == GroupBy::Socket ? "socket" : "numa"; }

Plan make_plan(const Topology& topology, const PlacementOptions& options) {
  check_count("groups", options.groups);
  check_count("threads_per_group", options.threads_per_group);
  const std::vector<std::vector<Core>> units = placement_units(topology, options.group_by);
  if (units.empty()) {  // not expected: a loaded topology has a PU, and a PU counts as a core
    throw Error(fmt::format("{} '{}': no cores to place groups on", field("topology"), topology.spec()));
  }
  const int groups = options.groups > 0 ? options.groups : static_cast<int>(units.size());
  const std::vector<Share> shares = divide(units, groups);

  Plan plan;
  plan.topology_spec = topology.spec();
  plan.threads_per_group = options.threads_per_group;
  if (plan.threads_per_group == 0) {
    plan.threads_per_group = static_cast<int>(shares[0].cores.size());
    for (const Share& share : shares) {
      plan.threads_per_group = std::min(plan.threads_per_group, static_cast<int>(share.cores.size()));
    }
  }
  const int threads = plan.threads_per_group;
  if (int64_t{groups} * threads > kMaxCount) {
    throw Error(fmt::format("placement of {} groups x {} worker threads needs {} threads, more than "
                            "the {} shadowsync plans for ({} x {})",
                            groups, threads, int64_t{groups} * threads, kMaxCount, field("groups"),
                            field("threads_per_group")));
  }

  // Workers, and how many run on each PU.
  std::map<int, int> workers_on_pu;
  std::vector<std::vector<int>> orders;
  for (int g = 0; g < groups; ++g) {
    const std::vector<int> order = worker_order(shares[static_cast<size_t>(g)]);
    GroupPlacement placement{g, 0, detail::list_string(order), {}, 0, false};
    for (int w = 0; w < threads; ++w) {
      const int pu = order[static_cast<size_t>(w) % order.size()];
      placement.worker_pus.push_back(pu);
      ++workers_on_pu[pu];
    }
    plan.groups.push_back(std::move(placement));
    orders.push_back(order);
  }
  int busiest_group = -1;
  for (const GroupPlacement& group : plan.groups) {
    for (int pu : group.worker_pus) {
      if (workers_on_pu[pu] > 1 && busiest_group < 0) busiest_group = group.group;
    }
  }
  plan.oversubscribed = busiest_group >= 0;
  if (plan.oversubscribed && !options.oversubscribe) {
    const int64_t needed = int64_t{groups} * threads;
    if (needed > topology.pus()) {
      throw Error(fmt::format(
          "placement of {} group{} x {} worker threads needs {} threads but the machine has {} "
          "processing units; pass {} to allow it",
          groups, groups == 1 ? "" : "s", threads, needed, topology.pus(), field("oversubscribe")));
    }
    throw Error(fmt::format(
        "placement of {} groups x {} worker threads needs {} threads on the share of group {} "
        "(cpuset {}) but it has {} processing units free; pass {} to allow it "
        "(or choose {} / {} that fit the sockets)",
        groups, threads, threads, busiest_group, plan.groups[static_cast<size_t>(busiest_group)].cpuset,
        static_cast<int>(orders[static_cast<size_t>(busiest_group)].size()), field("oversubscribe"),
        field("groups"), field("threads_per_group")));
  }

  // Helper threads: a PU of the share with no worker (a free core first, then an SMT sibling).
  std::set<int> taken;
  for (const auto& [pu, n] : workers_on_pu) taken.insert(pu);
  for (int g = 0; g < groups; ++g) {
    GroupPlacement& placement = plan.groups[static_cast<size_t>(g)];
    int spare = -1;
    for (int pass = 0; pass < 2 && spare < 0; ++pass) {
      for (const Core& core : shares[static_cast<size_t>(g)].cores) {
        const bool core_free =
            std::none_of(core.begin(), core.end(), [&](int pu) { return workers_on_pu.count(pu) > 0; });
        if (pass == 0 && !core_free) continue;
        for (int pu : core) {
          if (!taken.contains(pu)) {
            spare = pu;
            break;
          }
        }
        if (spare >= 0) break;
      }
    }
    placement.helper_on_spare_pu = spare >= 0;
    placement.helper_pu = spare >= 0 ? spare : placement.worker_pus[0];
    if (spare >= 0) taken.insert(spare);
  }

  // Memory node of each group (the node of most of its workers) and the shared nodes (all nodes
  // with a PU of some group).
  const std::vector<Topology::Node> nodes = topology.nodes();
  std::set<int> shared_nodes;
  for (int g = 0; g < groups; ++g) {
    GroupPlacement& placement = plan.groups[static_cast<size_t>(g)];
    int best_count = -1;
    placement.numa_node = nodes.empty() ? 0 : nodes[0].os_index;
    for (const Topology::Node& node : nodes) {
      const int workers_here = static_cast<int>(std::count_if(
          placement.worker_pus.begin(), placement.worker_pus.end(),
          [&](int pu) { return std::binary_search(node.pus.begin(), node.pus.end(), pu); }));
      if (workers_here > best_count) {
        best_count = workers_here;
        placement.numa_node = node.os_index;
      }
      for (int pu : orders[static_cast<size_t>(g)]) {
        if (std::binary_search(node.pus.begin(), node.pus.end(), pu)) {
          shared_nodes.insert(node.os_index);
          break;
        }
      }
    }
  }
  if (shared_nodes.empty()) shared_nodes.insert(plan.groups[0].numa_node);
  plan.shared_nodes.assign(shared_nodes.begin(), shared_nodes.end());
  return plan;
}

}  // namespace shadowsync::numa
