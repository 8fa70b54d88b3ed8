// compute_stats: one parallel reduction over rows for labels and dense columns, one task per
// categorical table for its missing count and bitmap of used rows (each task owns its bitmap).
#include "data_stats.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <bit>
#include <vector>

#include "shadowsync/error.hpp"

namespace shadowsync::data {
namespace {

struct DenseAccumulator {
  double positives = 0.0;
  std::array<double, kNumDense> sum{};
  std::array<float, kNumDense> max{};

  void merge(const DenseAccumulator& other) {
    positives += other.positives;
    for (int j = 0; j < kNumDense; ++j) {
      sum[j] += other.sum[j];
      max[j] = std::max(max[j], other.max[j]);
    }
  }
};

}  // namespace

DataStats compute_stats(const DataView& view, const HashingConfig& hashing,
                        const std::optional<std::array<uint64_t, kNumDense>>& dense_missing) {
  if (view.rows == 0) throw Error("data statistics: no rows");
  DataStats stats;
  stats.rows = view.rows;
  const double n = static_cast<double>(view.rows);

  const DenseAccumulator total = tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, view.rows, 1 << 14), DenseAccumulator{},
      [&](const tbb::blocked_range<size_t>& r, DenseAccumulator acc) {
        for (size_t i = r.begin(); i != r.end(); ++i) {
          acc.positives += view.labels[i];
          const float* row = view.dense + i * kNumDense;
          for (int j = 0; j < kNumDense; ++j) {
            acc.sum[j] += row[j];
            acc.max[j] = std::max(acc.max[j], row[j]);
          }
        }
        return acc;
      },
      [](DenseAccumulator a, const DenseAccumulator& b) {
        a.merge(b);
        return a;
      });
  stats.positive_rate = total.positives / n;
  for (int j = 0; j < kNumDense; ++j) {
    stats.dense[j].mean = total.sum[j] / n;
    stats.dense[j].max = total.max[j];
    if (dense_missing) {
      stats.dense[j].missing_share = static_cast<double>((*dense_missing)[j]) / n;
    }
  }

  tbb::parallel_for(0, kNumSparse, [&](int t) {
    std::vector<uint64_t> used((hashing.rows[t] + 63) / 64, 0);
    uint64_t missing = 0;
    for (size_t i = 0; i < view.rows; ++i) {
      const uint32_t row = view.sparse[i * kNumSparse + t];
      if (row >= hashing.rows[t]) {
        throw Error("data statistics: row " + std::to_string(i) + ": C" + std::to_string(t + 1) +
                    " value " + std::to_string(row) + " is out of range");
      }
      missing += row == 0;
      used[row >> 6] |= uint64_t{1} << (row & 63);
    }
    used[0] &= ~uint64_t{1};  // row 0 is "missing", not a used row
    uint64_t distinct = 0;
    for (const uint64_t word : used) distinct += static_cast<uint64_t>(std::popcount(word));
    stats.sparse[t].missing_share = static_cast<double>(missing) / n;
    stats.sparse[t].distinct_rows = distinct;
    stats.sparse[t].used_share =
        static_cast<double>(distinct) / static_cast<double>(hashing.rows[t] - 1);
  });
  return stats;
}

}  // namespace shadowsync::data
