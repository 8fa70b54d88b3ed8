// Placement plan: which trainer groups exist, on which NUMA node each group's dense replica lives,
// which PU each Hogwild worker and each group's shadow-sync thread runs on, and over which nodes
// the shared embedding tables are interleaved. Pure computation on a Topology (no binding).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "shadowsync/numa/topology.hpp"

namespace shadowsync::numa {

enum class GroupBy { Socket, Numa };

struct PlacementOptions {
  int groups = 0;             // 0 = auto: one group per socket (or NUMA node)
  int threads_per_group = 0;  // 0 = auto: one worker per core of the group's share
  GroupBy group_by = GroupBy::Socket;
  bool oversubscribe = false;  // allow more worker threads than PUs (PUs are then shared)
};

// "auto" -> 0, a positive integer -> itself; anything else throws Error naming `option_name`
// (e.g. "--groups") and the valid values.
int parse_count_option(const std::string& option_name, const std::string& value);
// "socket" | "numa"; anything else throws Error naming --group-by and the valid values.
GroupBy parse_group_by(const std::string& value);
const char* to_string(GroupBy group_by);

struct GroupPlacement {
  int group;                    // 0..groups-1
  int numa_node;                // OS index of the node holding the group's replica
  std::string cpuset;           // the group's PUs in hwloc list format, e.g. "0-7,16-23"
  std::vector<int> worker_pus;  // OS index of the PU of each worker (size threads_per_group)
  int sync_pu;                  // OS index of the PU of the group's shadow-sync thread
  bool sync_on_spare_pu;        // false: sync_pu is shared with worker 0
};

struct Plan {
  std::vector<GroupPlacement> groups;
  int threads_per_group = 0;
  bool oversubscribed = false;    // some PU runs more than one worker
  std::vector<int> embedding_nodes;  // OS indexes (ascending); tables are interleaved over them
  std::string topology_spec;         // Topology::spec() ("" = this machine)

  // Readable table: one line per group (node, cpuset, workers, sync thread) plus a header line;
  // the sync thread reads "PU 5 (spare: no worker on it)" or, without a spare PU,
  // "PU 1 (no spare PU; worker 0 runs on PU 1 too)".
  std::string to_table() const;
  // {"topology", "threads_per_group", "oversubscribed", "embedding_nodes",
  //  "groups": [{"group", "numa_node", "cpuset", "worker_pus", "sync_pu", "sync_on_spare_pu",
  //              "sync_shares_pu_with_worker" (0, or null on a spare PU)}]}
  nlohmann::json to_json() const;
};

// Auto: one group per socket (per NUMA node with GroupBy::Numa) with one worker per core (SMT
// siblings are left for the sync thread). An explicit group count is spread round-robin over the
// sockets (nodes), and the cores of a socket are divided evenly (contiguous blocks) between its
// groups; with more groups than cores in a socket, groups share cores round-robin. Auto threads
// per group = the smallest share's core count; an explicit count takes one PU per core first,
// then the SMT siblings, then wraps around. The sync thread takes a spare PU of the group (a
// free core first, then an SMT sibling) when there is one, else shares worker 0's PU. If any PU
// would run more than one worker, throws Error "... needs N worker threads but ... has M
// processing units; pass --oversubscribe to allow it" unless options.oversubscribe.
Plan make_plan(const Topology& topology, const PlacementOptions& options);

}  // namespace shadowsync::numa
