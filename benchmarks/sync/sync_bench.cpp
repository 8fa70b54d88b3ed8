// Benchmarks of the sync layer: one round of each rule (MA, EASGD, BMUF) over G = 2, 4, 8
// replicas, from L2-sized to well beyond the last-level cache, in the variants the trainer can
// use (one thread doing whole rounds; G threads each doing its slice, as ShadowSynchronizer runs
// them), with plain or non-temporal write-back stores and several chunk sizes; and a STREAM-style
// triad a[i] = b[i] + s * c[i] on the same byte sizes with 1 and 2 threads, the machine's bandwidth
// limit (plain, and with software prefetch: the limit is the better of the two). Counters: GB/s
// (every byte a round reads and writes, see round_bytes()), triad_GB/s at the same size and
// min(threads, cores) threads, and of_triad = GB/s / triad_GB/s; rmw_GB/s, a read-modify-write-in-
// place stream over the round's own arrays and bytes (its access pattern; see RmwArrays), and
// of_rmw, how close a round is to the limit of its pattern: for whole rounds on one thread the
// fastest round's cpu_GB/s over the stream's fastest pass, both per CPU second of the thread;
// for per-group rounds GB/s over the stream's wall-clock rate with as many threads.
//
// Byte counting. Sync round: replicas read once and written once (2 G N floats); EASGD adds the
// center (read + write, 2 N), BMUF w_global and delta (4 N). Triad: STREAM's convention, 3 arrays
// of N floats per pass (the write-allocate read of `a` is not counted, as in STREAM).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <thread>
#include <utility>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/sync/shadow_sync.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
const std::vector<size_t> kSizes = {256 * KiB, 2 * MiB, 16 * MiB, 128 * MiB, 1 * GiB};

int hardware_threads() { return std::max(1, static_cast<int>(std::thread::hardware_concurrency())); }

std::string size_label(size_t bytes) {
  if (bytes >= GiB) return std::to_string(bytes / GiB) + "GiB";
  if (bytes >= MiB) return std::to_string(bytes / MiB) + "MiB";
  return std::to_string(bytes / KiB) + "KiB";
}

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Steady-state rate of a counter that background threads advance: waits for the first pass, then
// measures from there until at least `min_passes` more and `min_seconds` have gone by.
double measure_rate(const std::function<uint64_t()>& count, int min_passes, double min_seconds) {
  auto poll = [] { std::this_thread::sleep_for(std::chrono::microseconds(100)); };
  while (count() < 1) poll();
  const Clock::time_point t1 = Clock::now();
  const uint64_t c1 = count();
  uint64_t c2 = c1;
  Clock::time_point t2 = t1;
  while (c2 < c1 + static_cast<uint64_t>(min_passes) || seconds_between(t1, t2) < min_seconds) {
    poll();
    c2 = count();
    t2 = Clock::now();
  }
  return static_cast<double>(c2 - c1) / seconds_between(t1, t2);
}

int min_passes_for(size_t bytes) { return bytes >= 128 * MiB ? 3 : 20; }

// ---- STREAM-style triad -------------------------------------------------------------------------

void triad(float* __restrict a, const float* __restrict b, const float* __restrict c, float s, size_t n) {
  for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// The same triad with software prefetch of all three arrays kPrefetchFloats ahead, one line per
// line processed (the technique the sync kernel uses), so that the limit is not just a weakness
// of the hardware prefetcher.
constexpr size_t kPrefetchFloats = 512;
void triad_prefetch(float* __restrict a, const float* __restrict b, const float* __restrict c, float s, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (i + kPrefetchFloats < n) {
      __builtin_prefetch(a + i + kPrefetchFloats, 1);
      __builtin_prefetch(b + i + kPrefetchFloats, 0);
      __builtin_prefetch(c + i + kPrefetchFloats, 0);
    }
    for (size_t k = 0; k < 16; ++k) a[i + k] = b[i + k] + s * c[i + k];
  }
  for (; i < n; ++i) a[i] = b[i] + s * c[i];
}

struct TriadArrays {
  explicit TriadArrays(size_t total_bytes) : n(total_bytes / 3 / sizeof(float) / 16 * 16), a(n), b(n), c(n) {
    for (size_t i = 0; i < n; ++i) {
      b[i] = 1.0f + static_cast<float>(i % 7);
      c[i] = 0.5f;
    }
  }
  size_t bytes_per_pass() const { return 3 * n * sizeof(float); }
  size_t n;
  AlignedFloatBuffer a, b, c;
};

// Triad passes per second over `arrays` with `threads` threads (each its contiguous part, free
// running, no barrier: the same way shadow threads run their slices).
double triad_rate(TriadArrays& arrays, int threads, bool prefetch) {
  const size_t n = arrays.n;
  auto part = [&](int k, float* a, const float* b, const float* c) {
    const size_t begin = n * static_cast<size_t>(k) / static_cast<size_t>(threads) / 16 * 16;
    const size_t end = k + 1 == threads ? n : n * static_cast<size_t>(k + 1) / static_cast<size_t>(threads) / 16 * 16;
    (prefetch ? triad_prefetch : triad)(a + begin, b + begin, c + begin, 3.0f, end - begin);
  };
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> passes;
  for (int k = 0; k < threads; ++k) passes.push_back(std::make_unique<std::atomic<uint64_t>>(0));
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int k = 0; k < threads; ++k) {
    pool.emplace_back([&, k] {
      while (!stop.load(std::memory_order_relaxed)) {
        part(k, arrays.a.data(), arrays.b.data(), arrays.c.data());
        benchmark::ClobberMemory();
        passes[static_cast<size_t>(k)]->fetch_add(1, std::memory_order_release);
      }
    });
  }
  const double rate = measure_rate(
      [&] {
        uint64_t m = UINT64_MAX;
        for (const auto& p : passes) m = std::min(m, p->load(std::memory_order_acquire));
        return m;
      },
      min_passes_for(3 * n * sizeof(float)), 0.3);
  stop.store(true);
  for (std::thread& t : pool) t.join();
  return rate;
}

// Bandwidth limit at `bytes` total and `threads` threads, in GB/s: the best of the plain and the
// prefetching triad over 3 tries each, measured once per (bytes, threads) and raised by any
// better triad/ benchmark result (a peak: on a shared machine a single try is easily disturbed).
struct Limit {
  double gbps = 0;
  bool measured = false;  // the 3 tries done
};
std::map<std::pair<size_t, int>, Limit>& triad_cache() {
  static std::map<std::pair<size_t, int>, Limit> cache;
  return cache;
}
double triad_gbps(size_t bytes, int threads) {
  Limit& limit = triad_cache()[std::make_pair(bytes, threads)];
  if (!limit.measured) {
    TriadArrays arrays(bytes);
    double rate = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      rate = std::max({rate, triad_rate(arrays, threads, false), triad_rate(arrays, threads, true)});
    }
    limit.gbps = std::max(limit.gbps, rate * static_cast<double>(arrays.bytes_per_pass()) * 1e-9);
    limit.measured = true;
  }
  return limit.gbps;
}

void BM_Triad(benchmark::State& state, size_t bytes, int threads, bool prefetch) {
  TriadArrays arrays(bytes);
  double rate = 0;
  for (auto _ : state) {
    rate = triad_rate(arrays, threads, prefetch);
    state.SetIterationTime(1.0 / rate);
  }
  const double gbps = rate * static_cast<double>(arrays.bytes_per_pass()) * 1e-9;
  state.counters["GB/s"] = gbps;
  state.counters["bytes"] = static_cast<double>(bytes);
  Limit& limit = triad_cache()[std::make_pair(bytes, threads)];
  limit.gbps = std::max(limit.gbps, gbps);
}

// ---- read-modify-write-in-place stream ------------------------------------------------------------

// The access pattern of a round without its arithmetic: `streams` arrays of n floats (a round's
// G replicas, plus EASGD's center or BMUF's w_global and delta), walked together in 1 KiB chunks
// (each array's chunk in turn, next chunk prefetched), every float read and written back in place (x = 0.5 x + 1), as a round reads
// each replica's chunk and writes the result back over it. Its bytes per pass are the round's
// (each float read once and written once), so rounds / this stream says how close a round comes to
// the memory system's limit for its own pattern; the triad (separate read and write arrays, the
// writes allocating lines) is a different pattern and only a reference.
struct RmwArrays {
  RmwArrays(int streams, size_t total_bytes) : n(total_bytes / sizeof(float) / static_cast<size_t>(streams) / 16 * 16) {
    for (int s = 0; s < streams; ++s) {
      arrays.emplace_back(n);
      float* x = arrays.back().data();
      for (size_t i = 0; i < n; ++i) x[i] = 1.0f + static_cast<float>(i % 7);
      pointers.push_back(x);
    }
  }
  size_t bytes_per_pass() const { return 2 * pointers.size() * n * sizeof(float); }
  size_t n;
  std::vector<AlignedFloatBuffer> arrays;
  std::vector<float*> pointers;
};

// One thread's part [begin, end) of every array, in the round's order: 1 KiB chunks (the rule's
// automatic chunk), each array's chunk in turn, prefetching that array's next chunk one line per
// line processed (as the round's write-back does).
constexpr size_t kRmwChunk = 256;
using Line = float __attribute__((vector_size(64), aligned(64)));  // one 64-byte line of floats
void rmw_part(float* const* pointers, size_t streams, size_t begin, size_t end) {
  const Line half = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
  const Line one = half + half;
  for (size_t b = begin; b < end; b += kRmwChunk) {
    const size_t e = std::min(end, b + kRmwChunk);
    for (size_t s = 0; s < streams; ++s) {
      float* x = pointers[s];
      for (size_t i = b; i < e; i += 16) {
        if (i + kRmwChunk < end) __builtin_prefetch(x + i + kRmwChunk, 1);
        Line* line = reinterpret_cast<Line*>(x + i);  // 64-byte aligned: arrays and i % 16 == 0
        *line = half * *line + one;
      }
    }
  }
}

// Passes per second of the in-place stream with `threads` threads, each its contiguous part of
// every array (as per-group shadow threads each take their slice), free running.
double rmw_rate(RmwArrays& arrays, int threads) {
  const size_t n = arrays.n;
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> passes;
  for (int k = 0; k < threads; ++k) passes.push_back(std::make_unique<std::atomic<uint64_t>>(0));
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int k = 0; k < threads; ++k) {
    pool.emplace_back([&, k] {
      const size_t begin = n * static_cast<size_t>(k) / static_cast<size_t>(threads) / 16 * 16;
      const size_t end = k + 1 == threads ? n : n * static_cast<size_t>(k + 1) / static_cast<size_t>(threads) / 16 * 16;
      while (!stop.load(std::memory_order_relaxed)) {
        rmw_part(arrays.pointers.data(), arrays.pointers.size(), begin, end);
        benchmark::ClobberMemory();
        passes[static_cast<size_t>(k)]->fetch_add(1, std::memory_order_release);
      }
    });
  }
  const double rate = measure_rate(
      [&] {
        uint64_t m = UINT64_MAX;
        for (const auto& p : passes) m = std::min(m, p->load(std::memory_order_acquire));
        return m;
      },
      min_passes_for(arrays.bytes_per_pass() / 2), 0.3);
  stop.store(true);
  for (std::thread& t : pool) t.join();
  return rate;
}

// This thread's CPU time in seconds (time the thread ran, not counting preemption).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The in-place stream's GB/s for `streams` arrays over `bytes` on this one thread, per CPU second:
// the best single pass of 12 (>= 128 MiB) or 40, after a warm-up pass. Measured once per key.
// CPU time, not wall time: on a shared machine a wall-clock pass counts the time other processes
// held the core; a round is compared with it by its own CPU time (see BM_SyncRound).
double rmw_cpu_gbps(int streams, size_t bytes) {
  static std::map<std::pair<int, size_t>, double> cache;
  double& gbps = cache[std::make_pair(streams, bytes)];
  if (gbps == 0) {
    RmwArrays arrays(streams, bytes);
    rmw_part(arrays.pointers.data(), arrays.pointers.size(), 0, arrays.n);
    double best = 1e30;
    for (int pass = 0; pass < 2 * std::max(6, min_passes_for(bytes)); ++pass) {
      const double start = thread_cpu_seconds();
      rmw_part(arrays.pointers.data(), arrays.pointers.size(), 0, arrays.n);
      benchmark::ClobberMemory();
      best = std::min(best, thread_cpu_seconds() - start);
    }
    gbps = static_cast<double>(arrays.bytes_per_pass()) / best * 1e-9;
  }
  return gbps;
}

// The in-place stream's GB/s for `streams` arrays over `bytes` with `threads` threads (wall
// time, free-running threads): best of 3 tries, measured once per key (a peak, like the triad's).
double rmw_gbps(int streams, size_t bytes, int threads) {
  static std::map<std::tuple<int, size_t, int>, double> cache;
  double& gbps = cache[std::make_tuple(streams, bytes, threads)];
  if (gbps == 0) {
    RmwArrays arrays(streams, bytes);
    double rate = 0;
    for (int attempt = 0; attempt < 3; ++attempt) rate = std::max(rate, rmw_rate(arrays, threads));
    gbps = rate * static_cast<double>(arrays.bytes_per_pass()) * 1e-9;
  }
  return gbps;
}

void BM_Rmw(benchmark::State& state, int streams, size_t bytes, int threads) {
  RmwArrays arrays(streams, bytes);
  double rate = 0;
  for (auto _ : state) {
    rate = rmw_rate(arrays, threads);
    state.SetIterationTime(1.0 / rate);
  }
  state.counters["GB/s"] = rate * static_cast<double>(arrays.bytes_per_pass()) * 1e-9;
  state.counters["bytes"] = static_cast<double>(bytes);
  if (threads == 1) state.counters["cpu_GB/s"] = rmw_cpu_gbps(streams, bytes);
}

// ---- sync rounds --------------------------------------------------------------------------------

struct Variant {
  SyncRuleKind kind;
  int groups;
  size_t bytes;       // total replica bytes
  bool per_group;     // G threads, each its slice (ShadowSynchronizer threads = G); else 1 thread
  bool nontemporal;   // streaming stores for the write-back
  size_t chunk;       // 0: automatic
};

// Bytes a round reads and writes (see the file comment).
double round_bytes(SyncRuleKind kind, int groups, size_t n) {
  double floats = 2.0 * groups * static_cast<double>(n);
  if (kind == SyncRuleKind::EASGD) floats += 2.0 * static_cast<double>(n);
  if (kind == SyncRuleKind::BMUF) floats += 4.0 * static_cast<double>(n);
  return floats * sizeof(float);
}

struct SyncFixture {
  explicit SyncFixture(const Variant& v) : n(v.bytes / sizeof(float) / static_cast<size_t>(v.groups) / 16 * 16) {
    for (int i = 0; i < v.groups; ++i) {
      replicas.emplace_back(n);
      float* w = replicas.back().data();
      for (size_t e = 0; e < n; ++e) w[e] = static_cast<float>(i) + 1e-3f * static_cast<float>(e % 1000);
      pointers.push_back(w);
    }
    SyncParams params = SyncParams::defaults(v.kind, v.groups);
    params.nontemporal = v.nontemporal;
    params.chunk_floats = v.chunk;
    rule = std::make_unique<SyncRule>(params, pointers, n);
  }
  size_t n;
  std::vector<AlignedFloatBuffer> replicas;
  std::vector<float*> pointers;
  std::unique_ptr<SyncRule> rule;
};

void BM_SyncRound(benchmark::State& state, Variant v) {
  SyncFixture f(v);
  const double bytes = round_bytes(v.kind, v.groups, f.n);
  const int threads = v.per_group ? v.groups : 1;
  double seconds_per_round = 0;
  double best_cpu_seconds = 1e30;  // whole rounds: the fastest round in CPU time
  if (!v.per_group) {
    f.rule->run_round();  // warm up
    double total = 0;
    for (auto _ : state) {
      const Clock::time_point start = Clock::now();
      const double cpu_start = thread_cpu_seconds();
      f.rule->run_round();
      const double s = seconds_between(start, Clock::now());
      best_cpu_seconds = std::min(best_cpu_seconds, thread_cpu_seconds() - cpu_start);
      state.SetIterationTime(s);
      total += s;
    }
    seconds_per_round = total / static_cast<double>(state.iterations());
  } else {
    ShadowSyncOptions options;
    options.threads = v.groups;
    ShadowSynchronizer sync(*f.rule, options);
    for (auto _ : state) {
      sync.start();
      // The slowest slice sets the round rate; on an oversubscribed machine slices advance in
      // bursts, so measure over more rounds and at least 1 s.
      const double rate =
          measure_rate([&] { return sync.rounds_completed(); }, 2 * min_passes_for(v.bytes), 1.0);
      sync.stop();
      seconds_per_round = 1.0 / rate;
      state.SetIterationTime(seconds_per_round);
    }
  }
  const double gbps = bytes / seconds_per_round * 1e-9;
  const double limit = triad_gbps(v.bytes, std::min(threads, hardware_threads()));
  state.counters["GB/s"] = gbps;
  state.counters["triad_GB/s"] = limit;
  state.counters["of_triad"] = gbps / limit;
  // The round's own pattern as a stream: the replicas plus EASGD's center / BMUF's two vectors.
  // Whole rounds (one thread): the fastest round against the stream's fastest pass, both per CPU
  // second of the thread (cpu_GB/s, rmw_GB/s), robust to preemption on a shared machine;
  // per-group rounds: wall-clock rates, as of_triad.
  const int streams = v.groups + (v.kind == SyncRuleKind::EASGD ? 1 : v.kind == SyncRuleKind::BMUF ? 2 : 0);
  const size_t stream_bytes = static_cast<size_t>(static_cast<double>(f.n) * sizeof(float) * streams);
  if (!v.per_group) {
    const double cpu_gbps = bytes / best_cpu_seconds * 1e-9;
    const double rmw = rmw_cpu_gbps(streams, stream_bytes);
    state.counters["cpu_GB/s"] = cpu_gbps;
    state.counters["rmw_GB/s"] = rmw;
    state.counters["of_rmw"] = cpu_gbps / rmw;
  } else {
    const double rmw = rmw_gbps(streams, stream_bytes, std::min(threads, hardware_threads()));
    state.counters["rmw_GB/s"] = rmw;
    state.counters["of_rmw"] = gbps / rmw;
  }
  state.counters["chunk"] = static_cast<double>(f.rule->chunk_floats());
}

std::string variant_name(const Variant& v) {
  std::string name = std::string("sync/") + sync_rule_name(v.kind) + "/G" + std::to_string(v.groups) + "/" +
                     size_label(v.bytes) + "/";
  if (v.per_group) {
    name += "per_group_" + std::to_string(v.groups) + "_threads";
    if (v.groups > hardware_threads()) name += "(oversubscribed_" + std::to_string(hardware_threads()) + "_cores)";
  } else {
    name += "whole_round_1_thread";
  }
  name += v.chunk == 0 ? "/chunk_auto" : "/chunk_" + std::to_string(v.chunk);
  name += v.nontemporal ? "/nt_stores" : "/plain_stores";
  return name;
}

void register_sync(const Variant& v) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(variant_name(v).c_str(), BM_SyncRound, v);
  b->UseManualTime()->Unit(benchmark::kMicrosecond);
  // With --benchmark_repetitions: the "best" row holds the highest GB/s and of_triad over the
  // repetitions (its time column is the largest time, not the best).
  b->ComputeStatistics("best", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
  // Per-group: one iteration is one steady-state rate measurement (>= 0.3 s); whole rounds: timed
  // one by one.
  if (v.per_group) {
    b->Iterations(1);
  } else {
    b->MinTime(v.bytes >= 128 * MiB ? 0.5 : 0.2);
  }
}

void register_all() {
  for (size_t bytes : kSizes) {
    for (int threads : {1, 2}) {
      for (bool prefetch : {false, true}) {
        const std::string name = std::string(prefetch ? "triad_prefetch/" : "triad/") + size_label(bytes) + "/" +
                                 std::to_string(threads) + "_threads";
        benchmark::RegisterBenchmark(name.c_str(), BM_Triad, bytes, threads, prefetch)
            ->UseManualTime()
            ->Unit(benchmark::kMicrosecond)
            ->Iterations(1);
      }
    }
  }
  for (size_t bytes : kSizes) {
    for (int streams : {2, 3, 4}) {
      const std::string name = "rmw/" + size_label(bytes) + "/" + std::to_string(streams) + "_streams/1_thread";
      benchmark::RegisterBenchmark(name.c_str(), BM_Rmw, streams, bytes, 1)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(1);
    }
  }
  for (SyncRuleKind kind : {SyncRuleKind::MA, SyncRuleKind::EASGD, SyncRuleKind::BMUF}) {
    for (int groups : {2, 4, 8}) {
      for (size_t bytes : kSizes) {
        for (bool per_group : {false, true}) register_sync({kind, groups, bytes, per_group, false, 0});
      }
    }
  }
  // Non-temporal write-back stores.
  for (SyncRuleKind kind : {SyncRuleKind::MA, SyncRuleKind::EASGD, SyncRuleKind::BMUF}) {
    for (size_t bytes : {16 * MiB, 1 * GiB}) {
      for (bool per_group : {false, true}) register_sync({kind, 4, bytes, per_group, true, 0});
    }
  }
  // Chunk length (whole rounds, and per-group for G = 4).
  for (size_t bytes : {2 * MiB, 1 * GiB}) {
    for (int groups : {2, 4, 8}) {
      for (size_t chunk : {size_t{64}, size_t{128}, size_t{256}, size_t{512}, size_t{1024}, size_t{4096}, size_t{16384}}) {
        register_sync({SyncRuleKind::MA, groups, bytes, false, false, chunk});
        if (groups == 4) register_sync({SyncRuleKind::MA, groups, bytes, true, false, chunk});
      }
    }
  }
}

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  shadowsync::register_all();
  // The machine line goes into the report's context (console header and JSON "context").
  benchmark::AddCustomContext("machine", shadowsync::machine_facts().summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
