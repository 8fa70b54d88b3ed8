// StatsAccumulator and compute_stats: per added view, one parallel reduction over its rows for
// labels and numeric columns and one task per categorical table (each task owns its table's
// missing count and paged bitmap of used rows).
#include "shadowsync/data/data_stats.hpp"

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

// The used rows of one table: pages of 2^12 bits (512 bytes), made when one of their rows is first
// used, so a huge table with few used rows costs little, and a full one at most its bitmap plus
// one pointer per page.
class UsedRows {
 public:
  static constexpr int kPageBits = 12;
  static constexpr size_t kPageWords = (size_t{1} << kPageBits) / 64;

  explicit UsedRows(uint64_t table_rows) : pages_(static_cast<size_t>((table_rows >> kPageBits) + 1)) {}

  void mark(uint32_t row) {
    std::unique_ptr<uint64_t[]>& page = pages_[row >> kPageBits];
    if (!page) page = std::make_unique<uint64_t[]>(kPageWords);  // zeroed
    const uint32_t bit = row & ((uint32_t{1} << kPageBits) - 1);
    page[bit >> 6] |= uint64_t{1} << (bit & 63);
  }

  uint64_t count() const {
    uint64_t used = 0;
    for (const std::unique_ptr<uint64_t[]>& page : pages_) {
      if (!page) continue;
      for (size_t w = 0; w < kPageWords; ++w) used += static_cast<uint64_t>(std::popcount(page[w]));
    }
    return used;
  }

 private:
  std::vector<std::unique_ptr<uint64_t[]>> pages_;
};

}  // namespace

struct StatsAccumulator::State {
  HashingConfig hashing;
  uint64_t rows = 0;
  NumericAccumulator numeric;
  std::array<uint64_t, kNumSparse> missing{};
  std::vector<UsedRows> used;
};

StatsAccumulator::StatsAccumulator(const HashingConfig& hashing) : state_(std::make_unique<State>()) {
  state_->hashing = hashing;
  state_->used.reserve(kNumSparse);
  for (int t = 0; t < kNumSparse; ++t) state_->used.emplace_back(hashing.rows[t]);
}

StatsAccumulator::~StatsAccumulator() = default;

uint64_t StatsAccumulator::rows() const { return state_->rows; }

void StatsAccumulator::add(const DataView& view) {
  if (view.rows == 0) return;
  State& s = *state_;
  s.numeric.merge(tbb::parallel_reduce(
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
  // The first out-of-range value (lowest row, then lowest table) is the one reported.
  std::array<uint64_t, kNumSparse> bad_row;
  bad_row.fill(UINT64_MAX);
  std::array<uint32_t, kNumSparse> bad_value{};
  tbb::parallel_for(0, kNumSparse, [&](int t) {
    const uint64_t table_rows = s.hashing.rows[t];
    UsedRows& used = s.used[static_cast<size_t>(t)];
    uint64_t missing = 0;
    for (size_t i = 0; i < view.rows; ++i) {
      const uint32_t row = view.sparse[i * kNumSparse + t];
      if (row >= table_rows) {
        bad_row[t] = i;
        bad_value[t] = row;
        break;
      }
      if (row == 0) {  // row 0 is "missing", not a used row
        ++missing;
      } else {
        used.mark(row);
      }
    }
    s.missing[t] += missing;
  });
  const auto first_bad = std::min_element(bad_row.begin(), bad_row.end());
  if (*first_bad != UINT64_MAX) {
    const int t = static_cast<int>(first_bad - bad_row.begin());
    throw Error("data statistics: row " + std::to_string(s.rows + *first_bad) + ": C" + std::to_string(t + 1) +
                " value " + std::to_string(bad_value[t]) + " is out of range");
  }
  s.rows += view.rows;
}

DataStats StatsAccumulator::finish(const std::optional<std::array<uint64_t, kNumNumeric>>& numeric_missing) const {
  const State& s = *state_;
  if (s.rows == 0) throw Error("data statistics: no rows");
  DataStats stats;
  stats.rows = s.rows;
  const double n = static_cast<double>(s.rows);
  stats.positive_rate = s.numeric.positives / n;
  for (int j = 0; j < kNumNumeric; ++j) {
    stats.numeric[j].mean = s.numeric.sum[j] / n;
    stats.numeric[j].max = s.numeric.max[j];
    if (numeric_missing) stats.numeric[j].missing_share = static_cast<double>((*numeric_missing)[j]) / n;
  }
  for (int t = 0; t < kNumSparse; ++t) {
    const uint64_t distinct = s.used[static_cast<size_t>(t)].count();
    stats.sparse[t].missing_share = static_cast<double>(s.missing[t]) / n;
    stats.sparse[t].distinct_rows = distinct;
    stats.sparse[t].used_share = static_cast<double>(distinct) / static_cast<double>(uint64_t{s.hashing.rows[t]} - 1);
  }
  return stats;
}

DataStats compute_stats(const DataParts& data, const HashingConfig& hashing,
                        const std::optional<std::array<uint64_t, kNumNumeric>>& numeric_missing) {
  StatsAccumulator accumulator(hashing);
  for (const DataView& view : data.parts()) accumulator.add(view);
  return accumulator.finish(numeric_missing);
}

}  // namespace shadowsync::data
