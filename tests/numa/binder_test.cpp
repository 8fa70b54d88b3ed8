// Binder: pinning on this machine (or the warning when it cannot), disabled binding on synthetic
// and oversubscribed plans with exactly one warning per Binder given to its sink (never printed),
// and node-local / interleaved memory that is aligned, zeroed and usable.
#include "shadowsync/numa/binder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

#include "shadowsync/core/error.hpp"

namespace shadowsync::numa {
namespace {

// A WarningSink that keeps what it receives; thread-safe.
class Warnings {
 public:
  WarningSink sink() {
    return [this](std::string_view message) {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(message);
    };
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

// The PUs the calling thread is bound to.
std::vector<int> thread_binding(const Topology& topology) {
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  EXPECT_EQ(hwloc_get_cpubind(topology.hwloc(), set, HWLOC_CPUBIND_THREAD), 0);
  std::vector<int> pus;
  for (int pu = hwloc_bitmap_first(set); pu != -1; pu = hwloc_bitmap_next(set, pu)) pus.push_back(pu);
  hwloc_bitmap_free(set);
  return pus;
}

// Allocates several sizes, checks alignment and zeros, writes a pattern and reads it back.
void exercise(MemoryResource& memory) {
  for (size_t bytes : {size_t{1}, size_t{64}, size_t{4099}, (size_t{3} << 20) + 5}) {
    SCOPED_TRACE(bytes);
    auto* block = static_cast<unsigned char*>(memory.allocate(bytes));
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 64, 0u);
    if (bytes >= (size_t{2} << 20)) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % (size_t{2} << 20), 0u);
    }
    EXPECT_TRUE(std::all_of(block, block + bytes, [](unsigned char b) { return b == 0; }));
    for (size_t i = 0; i < bytes; ++i) block[i] = static_cast<unsigned char>(i * 31 + 7);
    size_t mismatches = 0;
    for (size_t i = 0; i < bytes; ++i) mismatches += block[i] != static_cast<unsigned char>(i * 31 + 7);
    EXPECT_EQ(mismatches, 0u);
    memory.deallocate(block, bytes);
  }
}

TEST(Binder, ThisMachinePinsThreadsOrWarns) {
  const Topology topology = Topology::load("");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Warnings warnings;
  ::testing::internal::CaptureStderr();
  Binder binder(topology, plan, warnings.sink());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // the library never prints
  if (!binder.binding_enabled()) {
    EXPECT_EQ(warnings.messages(), std::vector<std::string>{binder.disabled_reason()});
    GTEST_SKIP() << "binding unsupported here: " << binder.disabled_reason();
  }
  EXPECT_EQ(warnings.messages(), std::vector<std::string>{});
  EXPECT_EQ(binder.disabled_reason(), "");
  for (int g = 0; g < static_cast<int>(plan.groups.size()); ++g) {
    for (int w = 0; w < plan.threads_per_group; ++w) {
      std::vector<int> bound;
      std::thread([&] {
        binder.bind_worker(g, w);
        bound = thread_binding(topology);
      }).join();
      EXPECT_EQ(bound, std::vector<int>{plan.groups[g].worker_pus[w]});
    }
    std::vector<int> bound;
    std::thread([&] {
      binder.bind_helper(g);
      bound = thread_binding(topology);
    }).join();
    EXPECT_EQ(bound, std::vector<int>{plan.groups[g].helper_pu});
  }
  EXPECT_EQ(warnings.messages(), std::vector<std::string>{});  // every thread was pinned
}

TEST(Binder, ThisMachineNodeMemoryIsOnTheNode) {
  const Topology topology = Topology::load("");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Binder binder(topology, plan, WarningSink{});
  exercise(binder.node_memory(0));
  exercise(binder.interleaved_memory());
  if (!binder.binding_enabled()) GTEST_SKIP() << binder.disabled_reason();
  const size_t bytes = size_t{4} << 20;
  auto* block = static_cast<char*>(binder.node_memory(0).allocate(bytes));
  std::memset(block, 1, bytes);  // first touch places the pages
  hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
  ASSERT_EQ(hwloc_get_area_memlocation(topology.hwloc(), block, bytes, nodes, HWLOC_MEMBIND_BYNODESET), 0);
  EXPECT_EQ(hwloc_bitmap_first(nodes), plan.groups[0].numa_node);
  EXPECT_EQ(hwloc_bitmap_weight(nodes), 1);
  hwloc_bitmap_free(nodes);
  binder.node_memory(0).deallocate(block, bytes);
}

TEST(Binder, SyntheticTopologyWarnsOncePerBinderForManyThreads) {
  const Topology topology = Topology::load("package:2 numa:1 core:4 pu:2");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Warnings warnings;
  Warnings second_warnings;
  ::testing::internal::CaptureStderr();
  {
    Binder binder(topology, plan, warnings.sink());
    Binder second(topology, plan, second_warnings.sink());
    EXPECT_FALSE(binder.binding_enabled());
    std::vector<std::thread> threads;
    for (int g = 0; g < 2; ++g) {
      for (int w = 0; w < plan.threads_per_group; ++w) {
        threads.emplace_back([&, g, w] {
          binder.bind_worker(g, w);
          second.bind_worker(g, w);
          void* block = binder.node_memory(g).allocate(4096);
          binder.node_memory(g).deallocate(block, 4096);
        });
      }
      threads.emplace_back([&, g] { binder.bind_helper(g); });
    }
    for (std::thread& thread : threads) thread.join();
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");  // the library never prints
  const std::string expected =
      "topology 'package:2 numa:1 core:4 pu:2' is synthetic, not this machine: threads and memory "
      "are not bound";
  EXPECT_EQ(warnings.messages(), std::vector<std::string>{expected});
  EXPECT_EQ(second_warnings.messages(), std::vector<std::string>{expected});
}

TEST(Binder, XmlTopologyWarningNamesTheFile) {
  const Topology topology = Topology::load(std::string(NUMA_TOPOLOGIES_DIR) + "/2socket.xml");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Warnings warnings;
  Binder binder(topology, plan, warnings.sink());
  EXPECT_FALSE(binder.binding_enabled());
  EXPECT_EQ(warnings.messages(),
            std::vector<std::string>{"topology '" + topology.spec() +
                                     "' is an XML file, not this machine: threads and memory are not "
                                     "bound"});
}

TEST(Binder, EmptySinkDropsTheWarning) {
  const Topology topology = Topology::load("package:1 core:2 pu:1");
  const Plan plan = make_plan(topology, PlacementOptions{});
  ::testing::internal::CaptureStderr();
  Binder binder(topology, plan, WarningSink{});
  binder.bind_worker(0, 1);
  binder.bind_helper(0);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(binder.binding_enabled());
  EXPECT_EQ(binder.disabled_reason(),
            "topology 'package:1 core:2 pu:1' is synthetic, not this machine: threads and memory are "
            "not bound");
}

TEST(Binder, DisabledBindingStillGivesUsableMemory) {
  const Topology topology = Topology::load("package:2 numa:1 core:4 pu:2");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Binder binder(topology, plan, WarningSink{});
  exercise(binder.node_memory(1));
  exercise(binder.interleaved_memory());
}

TEST(Binder, ConcurrentAllocationsAreIndependent) {
  const Topology topology = Topology::load("");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Binder binder(topology, plan, WarningSink{});
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        const size_t bytes = 1000 + 4096 * static_cast<size_t>(round);
        auto* block = static_cast<int*>(binder.interleaved_memory().allocate(bytes));
        const size_t n = bytes / sizeof(int);
        for (size_t i = 0; i < n; ++i) block[i] = t * 100000 + static_cast<int>(i);
        for (size_t i = 0; i < n; ++i) failures[t] += block[i] != t * 100000 + static_cast<int>(i);
        binder.interleaved_memory().deallocate(block, bytes);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(Binder, OversubscribedPlanIsNotBound) {
  const Topology topology = Topology::load("");
  const Plan plan = make_plan(topology, PlacementOptions{0, topology.pus() + 1, GroupBy::Socket, true});
  ASSERT_TRUE(plan.oversubscribed);
  Warnings warnings;
  ::testing::internal::CaptureStderr();
  Binder binder(topology, plan, warnings.sink());
  binder.bind_worker(0, topology.pus());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(binder.binding_enabled());
  EXPECT_EQ(warnings.messages(),
            std::vector<std::string>{"the placement is oversubscribed (PUs are shared): threads and "
                                     "memory are not bound"});
}

TEST(Binder, BadIndexesAndMismatchedPlanAreErrors) {
  const Topology topology = Topology::load("package:2 numa:1 core:2 pu:1");
  const Plan plan = make_plan(topology, PlacementOptions{});
  Binder binder(topology, plan, WarningSink{});
  EXPECT_THROW(binder.bind_worker(2, 0), Error);
  EXPECT_THROW(binder.bind_worker(0, 2), Error);
  EXPECT_THROW(binder.bind_worker(-1, 0), Error);
  EXPECT_THROW(binder.bind_helper(5), Error);
  EXPECT_THROW(binder.node_memory(2), Error);
  const Topology other = Topology::load("package:1 core:2 pu:1");
  try {
    Binder mismatched(other, plan, WarningSink{});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "Binder: the plan was made for topology 'package:2 numa:1 core:2 pu:1' but the topology "
              "is 'package:1 core:2 pu:1'");
  }
}

}  // namespace
}  // namespace shadowsync::numa
