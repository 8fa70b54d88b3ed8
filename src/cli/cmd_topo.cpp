// `shadowsync topo`: prints the machine (or a described one: hwloc XML file or synthetic string)
// with its NUMA nodes and distances, and the placement plan of trainer groups, as text or JSON.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "commands.hpp"
#include "placement_options.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/numa/topology.hpp"

namespace shadowsync::cli {

void add_topo_command(CLI::App& app) {
  struct Args {
    std::string topology;
    std::string groups = "auto";
    std::string threads_per_group = "auto";
    std::string group_by = "socket";
    bool oversubscribe = false;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "topo", "Show the machine (sockets, NUMA nodes, cores, PUs, memory, distances) and the "
              "placement of trainer groups");
  cmd->add_option("--topology", args->topology,
                  fmt::format("hwloc XML file or synthetic description (e.g. 'package:2 numa:1 "
                              "core:8 pu:2'), up to {} PUs; default: this machine",
                              numa::Topology::kMaxPus));
  cmd->add_option("--groups", args->groups, "number of trainer groups, or 'auto' (one per socket)")
      ->capture_default_str();
  cmd->add_option("--threads-per-group", args->threads_per_group,
                  "worker threads per group, or 'auto' (one per core)")
      ->capture_default_str();
  cmd->add_option("--group-by", args->group_by, "one group per 'socket' or per 'numa' node")
      ->capture_default_str();
  cmd->add_flag("--oversubscribe", args->oversubscribe, "allow more worker threads than PUs");
  cmd->add_flag("--json", args->json, "print JSON {machine, plan} instead of text");
  cmd->callback([args] {
    numa::PlacementOptions options;
    options.groups = parse_count_option("groups", args->groups);
    options.threads_per_group = parse_count_option("threads_per_group", args->threads_per_group);
    options.group_by = parse_group_by(args->group_by);
    options.oversubscribe = args->oversubscribe;
    const numa::Topology topology = numa::Topology::load(args->topology);
    const numa::Plan plan = numa::make_plan(topology, options);
    if (args->json) {
      const nlohmann::json out = {{"machine", topology.to_json()}, {"plan", plan.to_json()}};
      fmt::print("{}\n", out.dump(2));
    } else {
      fmt::print("{}{}", topology.describe(), plan.to_table());
    }
  });
}

}  // namespace shadowsync::cli
