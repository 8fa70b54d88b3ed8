// Plan::to_table() and Plan::to_json(): the readable and machine-readable views of a placement.
// Both are output formats of `shadowsync topo` that users read, so their words stay those of the
// first release: the shared memory is "embedding tables", the helper thread the "sync thread"
// (JSON: sync_pu, sync_on_spare_pu, embedding_nodes).
#include <fmt/format.h>

#include "hwloc_util.hpp"
#include "shadowsync/numa/plan.hpp"

namespace shadowsync::numa {

std::string Plan::to_table() const {
  std::string text = fmt::format(
      "plan: {} group{} x {} worker thread{}{}; embedding tables interleaved over node{} {}\n",
      groups.size(), groups.size() == 1 ? "" : "s", threads_per_group,
      threads_per_group == 1 ? "" : "s", oversubscribed ? " (oversubscribed: PUs shared)" : "",
      shared_nodes.size() == 1 ? "" : "s", detail::list_string(shared_nodes));
  text += fmt::format("  {:>5}  {:>4}  {:<20}  {:<20}  {}\n", "group", "node", "cpuset",
                      "worker PUs", "sync thread");
  for (const GroupPlacement& group : groups) {
    // Say which PU the helper thread shares, so that "worker 0" is not read as "PU 0".
    const std::string helper =
        group.helper_on_spare_pu
            ? fmt::format("PU {} (spare: no worker on it)", group.helper_pu)
            : fmt::format("PU {} (no spare PU; worker 0 runs on PU {} too)", group.helper_pu,
                          group.worker_pus.empty() ? group.helper_pu : group.worker_pus[0]);
    text += fmt::format("  {:>5}  {:>4}  {:<20}  {:<20}  {}\n", group.group, group.numa_node,
                        group.cpuset, detail::list_string(group.worker_pus), helper);
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
                           {"sync_pu", group.helper_pu},
                           {"sync_on_spare_pu", group.helper_on_spare_pu},
                           // Added: the worker whose PU the helper thread shares (null: none).
                           {"sync_shares_pu_with_worker",
                            group.helper_on_spare_pu ? nlohmann::json(nullptr) : nlohmann::json(0)}});
  }
  return {{"topology", detail::utf8_safe(topology_spec)},
          {"threads_per_group", threads_per_group},
          {"oversubscribed", oversubscribed},
          {"embedding_nodes", shared_nodes},
          {"groups", groups_json}};
}

}  // namespace shadowsync::numa
