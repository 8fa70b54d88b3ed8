// Placement plan: which groups of worker threads exist, on which NUMA node each group's memory
// lives, which PU each worker and each group's background helper thread runs on, and over which
// nodes the memory shared by all groups is interleaved. Pure computation on a Topology (no
// binding). Errors name configuration fields (groups, threads_per_group, oversubscribe,
// topology) with field() from shadowsync/core/error.hpp.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shadowsync/numa/topology.hpp"

namespace shadowsync::numa {

enum class GroupBy { Socket, Numa };

struct PlacementOptions {
  // The largest explicit groups and threads_per_group (and groups x threads_per_group).
  static constexpr int kMaxCount = 1 << 20;

  int groups = 0;             // 0 = auto: one group per socket (or NUMA node)
  int threads_per_group = 0;  // 0 = auto: one worker per core of the group's share
  GroupBy group_by = GroupBy::Socket;
  bool oversubscribe = false;  // allow more worker threads than PUs (PUs are then shared)
};

// "socket" or "numa".
const char* to_string(GroupBy group_by);

struct GroupPlacement {
  int group;                    // 0..groups-1
  int numa_node;                // OS index of the node holding the group's memory
  std::string cpuset;           // the group's PUs in hwloc list format, e.g. "0-7,16-23"
  std::vector<int> worker_pus;  // OS index of the PU of each worker (size threads_per_group)
  int helper_pu;                // OS index of the PU of the group's background helper thread
  bool helper_on_spare_pu;      // false: helper_pu is shared with worker 0
};

struct Plan {
  std::vector<GroupPlacement> groups;
  int threads_per_group = 0;
  bool oversubscribed = false;  // some PU runs more than one worker
  // OS indexes (ascending) of the nodes over which memory shared by all groups is interleaved.
  std::vector<int> shared_nodes;
  std::string topology_spec;  // Topology::spec() ("" = this machine)

  // Readable table, as `shadowsync topo` prints it (its wording is that command's documented
  // output, so it speaks of embedding tables and the sync thread: the trainer's shared memory
  // and helper thread): a summary line, a header line and one line per group (node, cpuset,
  // workers, helper PU); the helper reads "PU 5 (spare: no worker on it)" or, without a spare
  // PU, "PU 1 (no spare PU; worker 0 runs on PU 1 too)".
  std::string to_table() const;
  // A JSON format users read, keys unchanged since the first release (shared_nodes is
  // "embedding_nodes", helper_pu "sync_pu", helper_on_spare_pu "sync_on_spare_pu"):
  // {"topology", "threads_per_group", "oversubscribed", "embedding_nodes",
  //  "groups": [{"group", "numa_node", "cpuset", "worker_pus", "sync_pu", "sync_on_spare_pu",
  //              "sync_shares_pu_with_worker" (0, or null on a spare PU)}]}
  nlohmann::json to_json() const;
};

// Auto: one group per socket (per NUMA node with GroupBy::Numa) with one worker per core (SMT
// siblings are left for the helper thread). An explicit group count is spread round-robin over the
// sockets (nodes), and the cores of a socket are divided evenly (contiguous blocks) between its
// groups; with more groups than cores in a socket, groups share cores round-robin. Auto threads
// per group = the smallest share's core count; an explicit count takes one PU per core first,
// then the SMT siblings, then wraps around. The helper thread takes a spare PU of the group (a
// free core first, then an SMT sibling) when there is one, else shares worker 0's PU. Shared
// memory is interleaved over every node holding a PU of some group. If any PU would run more
// than one worker, throws Error "... needs N worker threads but ... has M processing units; pass
// oversubscribe to allow it" (the field marked) unless options.oversubscribe. Counts outside
// [0, kMaxCount], or more than kMaxCount workers in all, throw Error naming the fields.
Plan make_plan(const Topology& topology, const PlacementOptions& options);

}  // namespace shadowsync::numa
