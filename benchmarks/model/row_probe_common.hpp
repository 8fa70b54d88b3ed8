// What row_probe_bench and embedding_limit_bench share: the kaggle-sized tables of the probe
// (fp32 rows as EmbeddingStore keeps them, and BF16 rows), the batches' ids (uniform random, or
// drawn as the synthetic generator draws Criteo's categorical values: Zipf ranks of each
// column's cardinality, hashed into the table), timed runs of one probe pattern on one batch, and
// the context lines of the report (machine, caches, load average).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench_measure.hpp"
#include "row_probe.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/splitmix64.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "synthetic/rng.hpp"
#include "synthetic/schema.hpp"

namespace shadowsync::row_probe {

inline constexpr int kTables = kNumSparse;                              // 26
inline constexpr uint32_t kTableRows = HashingConfig::kDefaultRowsPerTable;  // 131,072 (kaggle benchmarks)
inline constexpr size_t kExamples = size_t(1) << 15;                     // examples of ids per distribution

// 26 tables of kTableRows rows, fp32 (16 floats, 64 B a row) or BF16 (16 x 2 B, 32 B a row), each
// with an fp32 accumulator per row; rows filled with 0.01 (every page touched), accumulators 0.
template <typename Row>
struct ProbeTables {
  std::vector<AlignedFloatBuffer> rows, acc;
  std::vector<TableRef<Row>> refs;
  explicit ProbeTables(uint32_t table_rows = kTableRows) {
    const size_t floats = size_t(table_rows) * kDim * sizeof(Row) / sizeof(float);
    for (int t = 0; t < kTables; ++t) {
      rows.emplace_back(floats);
      acc.emplace_back(table_rows);
      Row* r = reinterpret_cast<Row*>(rows.back().data());
      for (size_t i = 0; i < size_t(table_rows) * kDim; ++i) store(r[i], 0.01f);
      std::fill(acc.back().data(), acc.back().data() + table_rows, 0.0f);
      refs.push_back(TableRef<Row>{r, acc.back().data(), kDim});
    }
  }
  static double bytes_per_row() { return double(kDim * sizeof(Row)); }
};

// kExamples x 26 ids: uniform random rows (seed 1), or the generator's Zipf draws per column
// (synthetic::RowSampler, missing values included as one value) hashed into the rows.
inline std::vector<uint32_t> probe_ids(bool zipf, uint32_t table_rows = kTableRows) {
  std::vector<uint32_t> ids;
  ids.reserve(kExamples * kTables);
  if (!zipf) {
    std::mt19937_64 rng(1);
    for (size_t i = 0; i < kExamples * kTables; ++i) ids.push_back(uint32_t(rng() % table_rows));
    return ids;
  }
  synthetic::Rng rng(1);
  synthetic::RowSampler sampler;
  synthetic::RawRow row;
  for (size_t e = 0; e < kExamples; ++e) {
    sampler.sample(rng, row);
    for (int t = 0; t < kTables; ++t) {
      ids.push_back(uint32_t(splitmix64_next(uint64_t(row.rank[size_t(t)]) * 131 + uint64_t(t)) % table_rows));
    }
  }
  return ids;
}

// The probe's access patterns.
enum Pattern : int {
  kBatchOrder,     // gather and update in batch order, no prefetch
  kPrefetch,       // the same with software prefetch ahead (gather: 2 examples; update: 2 examples' rows)
  kSortedUnique,   // gather with prefetch; update each table's distinct rows once, sorted, as train_step
                   // (the next table's rows prefetched, and 8 rows ahead in the table)
  kSortedAhead,    // the same distinct sorted rows, prefetched 52 rows ahead across tables instead
  kPatterns
};
inline constexpr const char* kPatternNames[kPatterns] = {"batch_order", "prefetch", "sorted_unique", "sorted_ahead"};

// Seconds of one batch's gather and update, and the rows the update touched.
struct BatchTimes {
  double gather = 0, update = 0;
  size_t updated_rows = 0;
};

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `pattern` on the batch `ids` (examples x 26) of `tables`: gather into out, then the update
// with gradients grads (examples x 26 x kDim floats). The sorted pattern's distinct rows are
// listed before the clock starts (the step's sort is timed on its own).
template <typename Row>
BatchTimes run_pattern(const TableRef<Row>* tables, Pattern pattern, const uint32_t* ids, size_t examples,
                       float* out, const float* grads) {
  BatchTimes t;
  const Adagrad opt;
  SortedRows sorted;
  const bool sort = pattern == kSortedUnique || pattern == kSortedAhead;
  if (sort) sorted = sorted_unique(ids, examples, kTables);
  const double start = now_seconds();
  gather(tables, kTables, ids, examples, out, pattern == kBatchOrder ? 0 : 2);
  const double mid = now_seconds();
  if (sort) {
    if (pattern == kSortedUnique) {
      update_sorted(tables, kTables, sorted, grads, 8, opt, true);
    } else {
      update_sorted(tables, kTables, sorted, grads, 2 * size_t(kTables), opt, false);
    }
    t.updated_rows = sorted.rows.size();
  } else {
    update_batch(tables, kTables, ids, examples, grads, pattern == kPrefetch ? 2 * size_t(kTables) : 0, opt);
    t.updated_rows = examples * kTables;
  }
  t.update = now_seconds() - mid;
  t.gather = mid - start;
  benchmark::DoNotOptimize(out);
  return t;
}

// "l1d=48K l2=1024K l3=32768K" from /sys (cpu0's caches), "unknown" where absent.
inline std::string cache_sizes() {
  std::string out;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level(dir + "level"), type(dir + "type"), size(dir + "size");
    std::string l, ty, sz;
    if (!(level >> l) || !(type >> ty) || !(size >> sz)) continue;
    if (ty == "Instruction") continue;
    out += (out.empty() ? "" : " ") + std::string("l") + l + (l == "1" ? "d" : "") + "=" + sz;
  }
  return out.empty() ? "unknown" : out;
}

inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// The machine, its caches and the load average at the start, in the report's context.
inline void add_machine_context() {
  const MachineFacts facts = machine_facts();
  benchmark::AddCustomContext("machine", facts.summary());
  benchmark::AddCustomContext("caches", cache_sizes());
  benchmark::AddCustomContext("load_average_at_start", load_average());
}

}  // namespace shadowsync::row_probe
