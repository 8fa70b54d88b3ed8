// Plan::to_table() and Plan::to_json(): the readable and machine-readable views of a placement.
#include <fmt/format.h>

#include "hwloc_util.hpp"
#include "shadowsync/numa/plan.hpp"

namespace shadowsync::numa {

std::string Plan::to_table() const {
  std::string text = fmt::format(
      "plan: {} group{} x {} worker thread{}{}; embedding tables interleaved over node{} {}\n",
      groups.size(), groups.size() == 1 ? "" : "s", threads_per_group,
      threads_per_group == 1 ? "" : "s", oversubscribed ? " (oversubscribed: PUs shared)" : "",
      embedding_nodes.size() == 1 ? "" : "s", detail::list_string(embedding_nodes));
  text += fmt::format("  {:>5}  {:>4}  {:<20}  {:<20}  {}\n", "group", "node", "cpuset",
                      "worker PUs", "sync PU");
  for (const GroupPlacement& group : groups) {
    text += fmt::format("  {:>5}  {:>4}  {:<20}  {:<20}  {} ({})\n", group.group, group.numa_node,
                        group.cpuset, detail::list_string(group.worker_pus), group.sync_pu,
                        group.sync_on_spare_pu ? "spare" : "shared with worker 0");
  }
  return text;
}

nlohmann::json Plan::to_json() const {
  nlohmann::json groups_json = nlohmann::json::array();
  for (const GroupPlacement& group : groups) {
    groups_json.push_back({{"group", group.group},
                           {"numa_node", group.numa_node},
                           {"cpuset", group.cpuset},
                           {"worker_pus", group.worker_pus},
                           {"sync_pu", group.sync_pu},
                           {"sync_on_spare_pu", group.sync_on_spare_pu}});
  }
  return {{"topology", topology_spec},
          {"threads_per_group", threads_per_group},
          {"oversubscribed", oversubscribed},
          {"embedding_nodes", embedding_nodes},
          {"groups", groups_json}};
}

}  // namespace shadowsync::numa
