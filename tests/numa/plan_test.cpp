// make_plan(): groups, cpusets, memory nodes, worker PUs and helper-thread placement on the XML
// fixtures and synthetic machines, explicit counts, the oversubscription rule, errors naming
// fields, and placement invariants checked by a naive reference over many shapes.
#include "shadowsync/numa/plan.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "fixtures.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

using test::cli_message;
using test::fixture;

std::vector<int> range(int begin, int end) {
  std::vector<int> values;
  for (int i = begin; i < end; ++i) values.push_back(i);
  return values;
}

Plan plan_for(const std::string& spec, int groups = 0, int threads = 0,
              GroupBy group_by = GroupBy::Socket, bool oversubscribe = false) {
  const Topology topology = Topology::load(spec);
  return make_plan(topology, PlacementOptions{groups, threads, group_by, oversubscribe});
}

// The error as the command line shows it.
std::string plan_error(const std::string& spec, int groups, int threads, GroupBy by = GroupBy::Socket) {
  try {
    plan_for(spec, groups, threads, by);
  } catch (const Error& e) {
    return cli_message(e);
  }
  return "(no error)";
}

TEST(Plan, TwoSocketAutoOneGroupPerSocketSyncOnSibling) {
  const Plan plan = plan_for(fixture("2socket.xml"));
  EXPECT_EQ(plan.topology_spec, fixture("2socket.xml"));
  ASSERT_EQ(plan.groups.size(), 2u);
  EXPECT_EQ(plan.threads_per_group, 16);
  EXPECT_FALSE(plan.oversubscribed);
  EXPECT_EQ(plan.shared_nodes, (std::vector<int>{0, 1}));
  for (int g = 0; g < 2; ++g) {
    const GroupPlacement& group = plan.groups[g];
    EXPECT_EQ(group.group, g);
    EXPECT_EQ(group.numa_node, g);
    EXPECT_EQ(group.worker_pus, range(16 * g, 16 * g + 16));
    EXPECT_EQ(group.helper_pu, 32 + 16 * g);  // SMT sibling of worker 0
    EXPECT_TRUE(group.helper_on_spare_pu);
  }
  EXPECT_EQ(plan.groups[0].cpuset, "0-15,32-47");
  EXPECT_EQ(plan.groups[1].cpuset, "16-31,48-63");
}

TEST(Plan, FourSocketAuto) {
  const Plan plan = plan_for(fixture("4socket.xml"));
  ASSERT_EQ(plan.groups.size(), 4u);
  EXPECT_EQ(plan.threads_per_group, 8);
  EXPECT_EQ(plan.shared_nodes, (std::vector<int>{0, 1, 2, 3}));
  for (int g = 0; g < 4; ++g) {
    EXPECT_EQ(plan.groups[g].numa_node, g);
    EXPECT_EQ(plan.groups[g].cpuset, std::to_string(8 * g) + "-" + std::to_string(8 * g + 7) + "," +
                                         std::to_string(32 + 8 * g) + "-" + std::to_string(39 + 8 * g));
    EXPECT_EQ(plan.groups[g].worker_pus, range(8 * g, 8 * g + 8));
    EXPECT_EQ(plan.groups[g].helper_pu, 32 + 8 * g);
  }
}

TEST(Plan, EightSocketBySocketAndByNode) {
  const Plan by_socket = plan_for(fixture("8socket-snc2.xml"));
  ASSERT_EQ(by_socket.groups.size(), 8u);
  EXPECT_EQ(by_socket.threads_per_group, 4);
  EXPECT_EQ(by_socket.shared_nodes, range(0, 16));
  EXPECT_EQ(by_socket.groups[3].cpuset, "12-15,44-47");
  EXPECT_EQ(by_socket.groups[3].worker_pus, range(12, 16));
  EXPECT_EQ(by_socket.groups[3].numa_node, 6);  // 2 workers on node 6, 2 on node 7: the first
  EXPECT_EQ(by_socket.groups[3].helper_pu, 44);

  const Plan by_node = plan_for(fixture("8socket-snc2.xml"), 0, 0, GroupBy::Numa);
  ASSERT_EQ(by_node.groups.size(), 16u);
  EXPECT_EQ(by_node.threads_per_group, 2);
  for (int g = 0; g < 16; ++g) {
    EXPECT_EQ(by_node.groups[g].numa_node, g);
    EXPECT_EQ(by_node.groups[g].worker_pus, (std::vector<int>{2 * g, 2 * g + 1}));
    EXPECT_EQ(by_node.groups[g].helper_pu, 2 * g + 32);
  }
}

TEST(Plan, NoSmtAndAllCoresBusySharesWorkerZerosCore) {
  const Plan plan = plan_for("package:2 numa:1 core:4 pu:1");
  ASSERT_EQ(plan.groups.size(), 2u);
  EXPECT_EQ(plan.threads_per_group, 4);
  EXPECT_EQ(plan.groups[1].worker_pus, range(4, 8));
  EXPECT_EQ(plan.groups[1].cpuset, "4-7");
  EXPECT_FALSE(plan.groups[1].helper_on_spare_pu);
  EXPECT_EQ(plan.groups[1].helper_pu, 4);
}

TEST(Plan, SpareCoreIsPreferredOverSibling) {
  // 3 workers on 4 two-PU cores: the helper thread takes the free core 3 (PU 6), not PU 1.
  const Plan plan = plan_for("package:2 numa:1 core:4 pu:2", 0, 3);
  EXPECT_EQ(plan.groups[0].worker_pus, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(plan.groups[0].helper_pu, 6);
  EXPECT_TRUE(plan.groups[0].helper_on_spare_pu);
  EXPECT_EQ(plan.groups[1].worker_pus, (std::vector<int>{8, 10, 12}));
  EXPECT_EQ(plan.groups[1].helper_pu, 14);
}

TEST(Plan, ExplicitGroupsAreSpreadRoundRobinOverSockets) {
  const Plan plan = plan_for(fixture("2socket.xml"), 4);
  ASSERT_EQ(plan.groups.size(), 4u);
  EXPECT_EQ(plan.threads_per_group, 8);
  EXPECT_EQ(plan.groups[0].cpuset, "0-7,32-39");
  EXPECT_EQ(plan.groups[1].cpuset, "16-23,48-55");
  EXPECT_EQ(plan.groups[2].cpuset, "8-15,40-47");
  EXPECT_EQ(plan.groups[3].cpuset, "24-31,56-63");
  EXPECT_EQ(plan.groups[2].worker_pus, range(8, 16));
  EXPECT_EQ(plan.groups[2].numa_node, 0);
  EXPECT_EQ(plan.groups[3].numa_node, 1);
  EXPECT_EQ(plan.groups[2].helper_pu, 40);
}

TEST(Plan, UnevenGroupsUseTheSmallestShare) {
  const Plan plan = plan_for(fixture("2socket.xml"), 3);
  ASSERT_EQ(plan.groups.size(), 3u);
  EXPECT_EQ(plan.threads_per_group, 8);
  EXPECT_EQ(plan.groups[1].cpuset, "16-31,48-63");  // alone on socket 1
  EXPECT_EQ(plan.groups[1].worker_pus, range(16, 24));
  EXPECT_EQ(plan.groups[1].helper_pu, 24);  // a free core of its share
}

TEST(Plan, OneGroupSpansTheMachine) {
  const Plan plan = plan_for(fixture("2socket.xml"), 1);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.threads_per_group, 32);
  EXPECT_EQ(plan.groups[0].cpuset, "0-63");
  EXPECT_EQ(plan.groups[0].worker_pus, range(0, 32));
  EXPECT_EQ(plan.groups[0].numa_node, 0);
  EXPECT_EQ(plan.shared_nodes, (std::vector<int>{0, 1}));
}

TEST(Plan, ExplicitThreadsUseSiblingsAfterCores) {
  const Plan plan = plan_for(fixture("2socket.xml"), 0, 20);
  std::vector<int> want = range(16, 32);
  for (int pu : range(48, 52)) want.push_back(pu);
  EXPECT_EQ(plan.groups[1].worker_pus, want);
  EXPECT_EQ(plan.groups[1].helper_pu, 52);
  const Plan full = plan_for(fixture("2socket.xml"), 0, 32);
  EXPECT_FALSE(full.oversubscribed);
  EXPECT_FALSE(full.groups[0].helper_on_spare_pu);
  EXPECT_EQ(full.groups[0].helper_pu, 0);
}

TEST(Plan, MoreWorkersThanPusNeedsOversubscribe) {
  EXPECT_EQ(plan_error(fixture("2socket.xml"), 0, 33),
            "placement of 2 groups x 33 worker threads needs 66 threads but the machine has 64 "
            "processing units; pass --oversubscribe to allow it");
  const Plan plan = plan_for(fixture("2socket.xml"), 0, 33, GroupBy::Socket, true);
  EXPECT_TRUE(plan.oversubscribed);
  EXPECT_EQ(plan.groups[0].worker_pus[32], plan.groups[0].worker_pus[0]);
  EXPECT_FALSE(plan.groups[0].helper_on_spare_pu);
}

TEST(Plan, ShareTooSmallNeedsOversubscribe) {
  // 3 groups: groups 0 and 2 share socket 0 (16 PUs each); 17 threads fit the machine (51 <= 64)
  // but not group 0's share.
  const std::string message = plan_error(fixture("2socket.xml"), 3, 17);
  EXPECT_NE(message.find("group 0 (cpuset 0-7,32-39)"), std::string::npos) << message;
  EXPECT_NE(message.find("has 16 processing units free; pass --oversubscribe"), std::string::npos)
      << message;
}

TEST(Plan, MoreGroupsThanPusShareRoundRobin) {
  EXPECT_NE(plan_error("package:1 core:2 pu:1", 3, 0).find(
                "needs 3 threads but the machine has 2 processing units; pass --oversubscribe"),
            std::string::npos);
  const Plan plan = plan_for("package:1 core:2 pu:1", 3, 0, GroupBy::Socket, true);
  ASSERT_EQ(plan.groups.size(), 3u);
  EXPECT_TRUE(plan.oversubscribed);
  EXPECT_EQ(plan.threads_per_group, 1);
  EXPECT_EQ(plan.groups[0].worker_pus, std::vector<int>{0});
  EXPECT_EQ(plan.groups[1].worker_pus, std::vector<int>{1});
  EXPECT_EQ(plan.groups[2].worker_pus, std::vector<int>{0});
}

TEST(Plan, MoreGroupsThanCoresButNotPusUsesSiblings) {
  const Plan plan = plan_for("package:1 core:2 pu:2", 4);
  EXPECT_FALSE(plan.oversubscribed);
  EXPECT_EQ(plan.threads_per_group, 1);
  EXPECT_EQ(plan.groups[0].worker_pus, std::vector<int>{0});
  EXPECT_EQ(plan.groups[1].worker_pus, std::vector<int>{2});
  EXPECT_EQ(plan.groups[2].worker_pus, std::vector<int>{1});
  EXPECT_EQ(plan.groups[3].worker_pus, std::vector<int>{3});
}

TEST(Plan, NegativeCountsAreErrors) {
  const Topology topology = Topology::load("package:1 core:2 pu:1");
  EXPECT_THROW(make_plan(topology, PlacementOptions{-1, 0, GroupBy::Socket, false}), Error);
  EXPECT_THROW(make_plan(topology, PlacementOptions{0, -3, GroupBy::Socket, false}), Error);
}

TEST(Plan, TableAndJson) {
  const Plan plan = plan_for(fixture("2socket.xml"));
  const std::string table = plan.to_table();
  EXPECT_NE(table.find("plan: 2 groups x 16 worker threads; embedding tables interleaved over nodes 0-1"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("      1     1  16-31,48-63           16-31                 PU 48 (spare: no worker on it)"),
            std::string::npos)
      << table;
  const nlohmann::json json = plan.to_json();
  EXPECT_EQ(json["threads_per_group"], 16);
  EXPECT_EQ(json["oversubscribed"], false);
  EXPECT_EQ(json["embedding_nodes"], nlohmann::json({0, 1}));
  EXPECT_EQ(json["groups"][1]["cpuset"], "16-31,48-63");
  EXPECT_EQ(json["groups"][1]["sync_pu"], 48);
  EXPECT_EQ(json["groups"][1]["worker_pus"][3], 19);
  EXPECT_EQ(json["groups"][1]["sync_on_spare_pu"], true);
  EXPECT_TRUE(json["groups"][1]["sync_shares_pu_with_worker"].is_null());
}

// Without a spare PU the helper thread shares worker 0's PU; the table names that PU, so that
// "worker 0" is not read as "PU 0" (it used to say "1 (shared with worker 0)").
TEST(Plan, TableSaysWhichPuTheSyncThreadShares) {
  const Plan plan = plan_for("package:2 core:1 pu:1");
  ASSERT_EQ(plan.groups.size(), 2u);
  ASSERT_FALSE(plan.groups[1].helper_on_spare_pu);
  const std::string table = plan.to_table();
  EXPECT_NE(table.find("  group  node  cpuset                worker PUs            sync thread\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("      1     0  1                     1                     "
                       "PU 1 (no spare PU; worker 0 runs on PU 1 too)\n"),
            std::string::npos)
      << table;
  EXPECT_EQ(table.find("shared with worker 0"), std::string::npos) << table;
  const nlohmann::json json = plan.to_json();
  EXPECT_EQ(json["groups"][1]["sync_pu"], 1);  // existing keys unchanged
  EXPECT_EQ(json["groups"][1]["sync_on_spare_pu"], false);
  EXPECT_EQ(json["groups"][1]["sync_shares_pu_with_worker"], 0);
}

// Found by fuzzing: make_plan walked every PU of the machine for every core (1.5 s for 4096
// PUs, 24 s for 8192 under no sanitizer); now one pass. No timing assertion: the suite's
// timeout catches a regression.
TEST(Plan, LargestRealMachine) {
  const Plan plan = plan_for("package:8 numa:2 core:128 pu:2");
  ASSERT_EQ(plan.groups.size(), 8u);
  EXPECT_EQ(plan.threads_per_group, 256);
  EXPECT_EQ(plan.groups[7].worker_pus.front(), 7 * 512);
  EXPECT_EQ(plan.groups[7].worker_pus.back(), 7 * 512 + 510);
  EXPECT_EQ(plan.groups[7].helper_pu, 7 * 512 + 1);  // SMT sibling of worker 0
  EXPECT_TRUE(plan.groups[7].helper_on_spare_pu);
}

TEST(Plan, TooManyWorkerThreadsInAllIsAnError) {
  const Topology topology = Topology::load("package:1 core:2 pu:1");
  try {
    make_plan(topology, PlacementOptions{1024, 2048, GroupBy::Socket, true});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(cli_message(e), "placement of 1024 groups x 2048 worker threads needs 2097152 threads, "
                              "more than the 1048576 shadowsync plans for (--groups x --threads-per-group)");
    EXPECT_STREQ(e.what(), "placement of 1024 groups x 2048 worker threads needs 2097152 threads, "
                           "more than the 1048576 shadowsync plans for (groups x threads_per_group)");
  }
}

// The library names configuration fields, not flags: what() has the plain field names and the
// command line spells them as flags.
TEST(Plan, ErrorsNameFieldsNotFlags) {
  try {
    plan_for(fixture("2socket.xml"), 0, 33);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "placement of 2 groups x 33 worker threads needs 66 threads but the machine "
                           "has 64 processing units; pass oversubscribe to allow it");
  }
  try {
    plan_for(fixture("2socket.xml"), 3, 17);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "placement of 3 groups x 17 worker threads needs 17 threads on the share of "
                           "group 0 (cpuset 0-7,32-39) but it has 16 processing units free; pass "
                           "oversubscribe to allow it (or choose groups / threads_per_group that fit "
                           "the sockets)");
    EXPECT_EQ(cli_message(e), "placement of 3 groups x 17 worker threads needs 17 threads on the share "
                              "of group 0 (cpuset 0-7,32-39) but it has 16 processing units free; pass "
                              "--oversubscribe to allow it (or choose --groups / --threads-per-group "
                              "that fit the sockets)");
  }
}

TEST(Plan, CountsOutOfRangeAreErrors) {
  EXPECT_EQ(plan_error("package:1 core:2 pu:1", -1, 0),
            "--groups must be 'auto' (0) or a positive integer up to 1048576, got -1");
  EXPECT_EQ(plan_error("package:1 core:2 pu:1", 1, (1 << 20) + 1),
            "--threads-per-group must be 'auto' (0) or a positive integer up to 1048576, got 1048577");
  try {
    plan_for("package:1 core:2 pu:1", 1, -3);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "threads_per_group must be 'auto' (0) or a positive integer up to 1048576, got -3");
  }
}

// Naive checks of any plan: sizes, workers inside the group's cpuset, no PU with two workers
// unless oversubscribed, helper PU not a worker PU when on a spare one, memory node hosts the
// most workers.
void check_invariants(const Topology& topology, const Plan& plan, int groups, int threads) {
  ASSERT_EQ(static_cast<int>(plan.groups.size()), groups);
  std::map<int, int> load;
  std::map<int, int> node_of_pu;
  for (const Topology::Node& node : topology.nodes()) {
    for (int pu : node.pus) node_of_pu[pu] = node.os_index;
  }
  for (const GroupPlacement& group : plan.groups) {
    ASSERT_EQ(static_cast<int>(group.worker_pus.size()), threads);
    std::map<int, int> per_node;
    for (int pu : group.worker_pus) {
      ++load[pu];
      ++per_node[node_of_pu.at(pu)];
    }
    int best = 0;
    for (const auto& [node, n] : per_node) best = std::max(best, n);
    EXPECT_EQ(per_node[group.numa_node], best);
    if (group.helper_on_spare_pu) {
      for (const GroupPlacement& other : plan.groups) {
        for (int pu : other.worker_pus) EXPECT_NE(pu, group.helper_pu);
      }
    } else {
      EXPECT_EQ(group.helper_pu, group.worker_pus[0]);
    }
  }
  bool shared = false;
  for (const auto& [pu, n] : load) shared = shared || n > 1;
  EXPECT_EQ(plan.oversubscribed, shared);
}

TEST(Plan, InvariantsOverManyShapes) {
  for (const std::string& spec : std::vector<std::string>{"package:2 numa:1 core:8 pu:2", "package:3 numa:2 core:3 pu:2",
                                 "package:1 core:5 pu:1", fixture("8socket-snc2.xml")}) {
    const Topology topology = Topology::load(spec);
    for (GroupBy by : {GroupBy::Socket, GroupBy::Numa}) {
      for (int groups = 1; groups <= 9; ++groups) {
        for (int threads = 1; threads <= 7; ++threads) {
          SCOPED_TRACE(spec + " groups " + std::to_string(groups) + " threads " + std::to_string(threads));
          const Plan plan = make_plan(topology, PlacementOptions{groups, threads, by, true});
          check_invariants(topology, plan, groups, threads);
          if (groups * threads <= topology.pus() && !plan.oversubscribed) {
            EXPECT_NO_THROW(make_plan(topology, PlacementOptions{groups, threads, by, false}));
          } else if (plan.oversubscribed) {
            EXPECT_THROW(make_plan(topology, PlacementOptions{groups, threads, by, false}), Error);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace shadowsync::numa
