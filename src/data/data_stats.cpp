// compute_stats: one parallel reduction over rows for labels and numeric columns, one task per
// categorical table for its missing count and bitmap of used rows (each task owns its bitmap).
#include "data_stats.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <bit>
#include <vector>

#include "shadowsync/core/error.hpp"

namespace shadowsync::data {
namespace {

struct NumericAccumulator {
  double positives = 0.0;
  std::array<double, kNumNumeric> sum{};
  std::array<float, kNumNumeric> max{};

  void merge(const NumericAccumulator& other) {
    positives += other.positives;
    for (int j = 0; j < kNumNumeric; ++j) {
      sum[j] += other.sum[j];
      max[j] = std::max(max[j], other.max[j]);
    }
  }
};

}  // namespace

DataStats compute_stats(const DataParts& data, const HashingConfig& hashing,
                        const std::optional<std::array<uint64_t, kNumNumeric>>& numeric_missing) {
  if (data.rows() == 0) throw Error("data statistics: no rows");
  DataStats stats;
  stats.rows = data.rows();
  const double n = static_cast<double>(data.rows());

  NumericAccumulator total;
  for (const DataView& view : data.parts()) {
    total.merge(tbb::parallel_reduce(
        tbb::blocked_range<size_t>(0, view.rows, 1 << 14), NumericAccumulator{},
        [&](const tbb::blocked_range<size_t>& r, NumericAccumulator acc) {
          for (size_t i = r.begin(); i != r.end(); ++i) {
            acc.positives += view.labels[i];
            const float* row = view.numeric + i * kNumNumeric;
            for (int j = 0; j < kNumNumeric; ++j) {
              acc.sum[j] += row[j];
              acc.max[j] = std::max(acc.max[j], row[j]);
            }
          }
          return acc;
        },
        [](NumericAccumulator a, const NumericAccumulator& b) {
          a.merge(b);
          return a;
        }));
  }
  stats.positive_rate = total.positives / n;
  for (int j = 0; j < kNumNumeric; ++j) {
    stats.numeric[j].mean = total.sum[j] / n;
    stats.numeric[j].max = total.max[j];
    if (numeric_missing) {
      stats.numeric[j].missing_share = static_cast<double>((*numeric_missing)[j]) / n;
    }
  }

  tbb::parallel_for(0, kNumSparse, [&](int t) {
    const uint64_t table_rows = hashing.rows[t];  // 64-bit: rows + 63 must not wrap
    std::vector<uint32_t> values;
    std::vector<uint64_t> used;
    // A bitmap of used rows when it is small next to the data; else the sorted distinct values
    // (a table of 2^32 rows would need a 512 MiB bitmap per table).
    const bool use_bitmap = table_rows / 64 <= std::max<uint64_t>(data.rows(), 1u << 16);
    if (use_bitmap) {
      used.assign(static_cast<size_t>((table_rows + 63) / 64), 0);
    } else {
      values.reserve(data.rows());
    }
    uint64_t missing = 0;
    size_t first = 0;  // of the part in the sequence
    for (const DataView& view : data.parts()) {
      for (size_t i = 0; i < view.rows; ++i) {
        const uint32_t row = view.sparse[i * kNumSparse + t];
        if (row >= table_rows) {
          throw Error("data statistics: row " + std::to_string(first + i) + ": C" + std::to_string(t + 1) +
                      " value " + std::to_string(row) + " is out of range");
        }
        if (row == 0) {  // row 0 is "missing", not a used row
          ++missing;
        } else if (use_bitmap) {
          used[row >> 6] |= uint64_t{1} << (row & 63);
        } else {
          values.push_back(row);
        }
      }
      first += view.rows;
    }
    uint64_t distinct = 0;
    if (use_bitmap) {
      for (const uint64_t word : used) distinct += static_cast<uint64_t>(std::popcount(word));
    } else {
      std::sort(values.begin(), values.end());
      distinct = static_cast<uint64_t>(std::unique(values.begin(), values.end()) - values.begin());
    }
    stats.sparse[t].missing_share = static_cast<double>(missing) / n;
    stats.sparse[t].distinct_rows = distinct;
    stats.sparse[t].used_share =
        static_cast<double>(distinct) / static_cast<double>(table_rows - 1);
  });
  return stats;
}

}  // namespace shadowsync::data
