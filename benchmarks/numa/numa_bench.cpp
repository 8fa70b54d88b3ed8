// NUMA benchmarks on the real machine: single-thread streaming read and write bandwidth over a
// 256 MiB buffer placed on the thread's own node (local), on another node (remote, only with more
// than one node) or interleaved over all nodes, through the Binder's memory resources; and the
// cost of re-pinning a thread with hwloc_set_cpubind. On a one-node machine only the local and
// interleaved cases run, and their label says so.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/numa/binder.hpp"

namespace {

using namespace shadowsync::numa;

constexpr size_t kBytes = size_t{256} << 20;

enum class Placement { Local, Remote, Interleaved };

// The Binder's warning (binding off, or a thread it could not pin), once per process.
void print_warning_once(std::string_view message) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  std::fprintf(stderr, "shadowsync: warning: %.*s\n", static_cast<int>(message.size()), message.data());
}

// Pins the calling thread to the first worker PU of group 0 and returns a buffer placed per
// `placement` (a plan whose group 0 replica node is moved to another node gives remote memory).
struct Setup {
  Topology topology = Topology::load("");
  Plan plan;
  std::unique_ptr<Binder> binder;
  shadowsync::MemoryResource* memory = nullptr;
  uint64_t* buffer = nullptr;
  std::string label;

  explicit Setup(Placement placement) {
    plan = make_plan(topology, PlacementOptions{1, 1, GroupBy::Numa, false});
    const auto nodes = topology.nodes();
    const int local = plan.groups[0].numa_node;
    label = "node " + std::to_string(local) + " thread";
    if (placement == Placement::Remote) {
      for (const Topology::Node& node : nodes) {
        if (node.os_index != local) {
          plan.groups[0].numa_node = node.os_index;
          break;
        }
      }
      label += ", memory on node " + std::to_string(plan.groups[0].numa_node);
    } else if (placement == Placement::Interleaved) {
      plan.shared_nodes.clear();
      for (const Topology::Node& node : nodes) plan.shared_nodes.push_back(node.os_index);
      label += ", memory interleaved over " + std::to_string(nodes.size()) + " node(s)";
    } else {
      label += ", memory on node " + std::to_string(local);
    }
    if (nodes.size() == 1) label += " (1 NUMA node: local only)";
    binder = std::make_unique<Binder>(topology, plan, print_warning_once);
    if (!binder->binding_enabled()) label += " [unbound: " + binder->disabled_reason() + "]";
    binder->bind_worker(0, 0);
    memory = placement == Placement::Interleaved ? &binder->interleaved_memory() : &binder->node_memory(0);
    buffer = static_cast<uint64_t*>(memory->allocate(kBytes));
    std::memset(buffer, 1, kBytes);  // first touch: pages land where the policy says
  }
  ~Setup() { memory->deallocate(buffer, kBytes); }
};

void read_bandwidth(benchmark::State& state, Placement placement) {
  Setup setup(placement);
  const size_t n = kBytes / sizeof(uint64_t);
  for (auto _ : state) {
    uint64_t sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    for (size_t i = 0; i < n; i += 4) {
      sum0 += setup.buffer[i];
      sum1 += setup.buffer[i + 1];
      sum2 += setup.buffer[i + 2];
      sum3 += setup.buffer[i + 3];
    }
    benchmark::DoNotOptimize(sum0 + sum1 + sum2 + sum3);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kBytes));
  state.SetLabel(setup.label);
}

void write_bandwidth(benchmark::State& state, Placement placement) {
  Setup setup(placement);
  const size_t n = kBytes / sizeof(uint64_t);
  uint64_t value = 0;
  for (auto _ : state) {
    ++value;
    for (size_t i = 0; i < n; ++i) setup.buffer[i] = value;
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(kBytes));
  state.SetLabel(setup.label);
}

// Alternates the calling thread between two PUs (or re-pins to the only one).
void BM_SetCpubind(benchmark::State& state) {
  const Topology topology = Topology::load("");
  const auto nodes = topology.nodes();
  std::vector<int> pus;
  for (const Topology::Node& node : nodes) pus.insert(pus.end(), node.pus.begin(), node.pus.end());
  const int a = pus.front();
  const int b = pus.size() > 1 ? pus[1] : pus.front();
  hwloc_bitmap_t set_a = hwloc_bitmap_alloc();
  hwloc_bitmap_t set_b = hwloc_bitmap_alloc();
  hwloc_bitmap_only(set_a, static_cast<unsigned>(a));
  hwloc_bitmap_only(set_b, static_cast<unsigned>(b));
  bool flip = false;
  int failures = 0;
  for (auto _ : state) {
    flip = !flip;
    failures += hwloc_set_cpubind(topology.hwloc(), flip ? set_a : set_b, HWLOC_CPUBIND_THREAD) != 0;
  }
  hwloc_bitmap_free(set_a);
  hwloc_bitmap_free(set_b);
  state.SetLabel("PU " + std::to_string(a) + " <-> PU " + std::to_string(b) +
                 (failures > 0 ? " (" + std::to_string(failures) + " calls failed)" : ""));
}

}  // namespace

int main(int argc, char** argv) {
  const Topology topology = Topology::load("");
  const bool several_nodes = topology.numa_nodes() > 1;
  benchmark::RegisterBenchmark("BM_Read/local", read_bandwidth, Placement::Local)->Unit(benchmark::kMillisecond);
  if (several_nodes) {
    benchmark::RegisterBenchmark("BM_Read/remote", read_bandwidth, Placement::Remote)->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Read/interleaved", read_bandwidth, Placement::Interleaved)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_Write/local", write_bandwidth, Placement::Local)->Unit(benchmark::kMillisecond);
  if (several_nodes) {
    benchmark::RegisterBenchmark("BM_Write/remote", write_bandwidth, Placement::Remote)->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Write/interleaved", write_bandwidth, Placement::Interleaved)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_SetCpubind", BM_SetCpubind);
  // The machine line goes into the report's context (console header and JSON "context").
  benchmark::AddCustomContext("machine", shadowsync::machine_facts().summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
