// StatsAccumulator and compute_stats: per added view, one parallel reduction over its rows for
// labels and numeric columns and one task per table, categorical or multi-hot (each task owns its
// table's missing count and paged bitmap of used rows).
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
  explicit NumericAccumulator(size_t n = 0) : sum(n, 0.0), max(n, 0.0f) {}
  double positives = 0.0;
  std::vector<double> sum;
  std::vector<float> max;

  void merge(const NumericAccumulator& other) {
    positives += other.positives;
    if (sum.empty()) {
      sum = other.sum;
      max = other.max;
      return;
    }
    for (size_t j = 0; j < other.sum.size(); ++j) {
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
  FeatureWidths widths;
  std::vector<std::string> numeric_names, table_names;
  uint64_t rows = 0;
  NumericAccumulator numeric;
  std::vector<uint64_t> missing;
  std::vector<UsedRows> used;
};

StatsAccumulator::StatsAccumulator(const HashingConfig& hashing)
    : StatsAccumulator(FeatureSchema::criteo(), hashing) {}

StatsAccumulator::StatsAccumulator(const FeatureSchema& schema, const HashingConfig& hashing)
    : state_(std::make_unique<State>()) {
  if (hashing.tables() != schema.table_count()) {
    throw Error("data statistics: the hashing config has " + std::to_string(hashing.tables()) +
                " tables but the schema has " + std::to_string(schema.table_count()));
  }
  state_->hashing = hashing;
  state_->widths = FeatureWidths{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
  for (int j = 0; j < schema.numeric_count(); ++j) state_->numeric_names.push_back(schema.numeric_name(j));
  for (int t = 0; t < schema.table_count(); ++t) state_->table_names.push_back(schema.table_name(t));
  state_->numeric = NumericAccumulator(size_t(schema.numeric_count()));
  state_->missing.assign(size_t(schema.table_count()), 0);
  state_->used.reserve(size_t(schema.table_count()));
  for (int t = 0; t < schema.table_count(); ++t) state_->used.emplace_back(hashing.rows[size_t(t)]);
}

StatsAccumulator::~StatsAccumulator() = default;

uint64_t StatsAccumulator::rows() const { return state_->rows; }

void StatsAccumulator::add(const DataView& view) {
  State& s = *state_;
  if (view.widths() != s.widths) {
    throw Error("data statistics: rows of widths " + std::to_string(view.numeric_width) + "/" +
                std::to_string(view.sparse_width) + "/" + std::to_string(view.multi_hot) +
                " (numeric/categorical/multi-hot) but the schema has " + std::to_string(s.widths.numeric) + "/" +
                std::to_string(s.widths.sparse) + "/" + std::to_string(s.widths.multi_hot));
  }
  if (view.rows == 0) return;
  const size_t n = size_t(s.widths.numeric), sw = size_t(s.widths.sparse), mw = size_t(s.widths.multi_hot);
  s.numeric.merge(tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, view.rows, 1 << 14), NumericAccumulator(n),
      [&](const tbb::blocked_range<size_t>& r, NumericAccumulator acc) {
        for (size_t i = r.begin(); i != r.end(); ++i) {
          acc.positives += view.labels[i];
          const float* row = view.numeric + i * n;
          for (size_t j = 0; j < n; ++j) {
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
  const size_t tables = sw + mw;
  std::vector<uint64_t> bad_row(tables, UINT64_MAX);
  std::vector<uint32_t> bad_value(tables, 0);
  tbb::parallel_for(size_t{0}, tables, [&](size_t t) {
    const uint64_t table_rows = s.hashing.rows[t];
    UsedRows& used = s.used[t];
    uint64_t missing = 0;
    if (t < sw) {
      for (size_t i = 0; i < view.rows; ++i) {
        const uint32_t row = view.sparse[i * sw + t];
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
    } else {  // a multi-hot table: an empty list is missing; every id of a list is used
      const size_t m = t - sw;
      for (size_t i = 0; i < view.rows && bad_row[t] == UINT64_MAX; ++i) {
        const uint64_t b = view.bag_begin(i, int(m)), e = view.bag_end(i, int(m));
        if (b == e) ++missing;
        for (uint64_t k = b; k < e; ++k) {
          const uint32_t row = view.bag_ids[k];
          if (row >= table_rows || row == 0) {
            bad_row[t] = i;
            bad_value[t] = row;
            break;
          }
          used.mark(row);
        }
      }
    }
    s.missing[t] += missing;
  });
  const auto first_bad = std::min_element(bad_row.begin(), bad_row.end());
  if (first_bad != bad_row.end() && *first_bad != UINT64_MAX) {
    const int t = static_cast<int>(first_bad - bad_row.begin());
    throw Error("data statistics: row " + std::to_string(s.rows + *first_bad) + ": " + s.table_names[size_t(t)] +
                " value " + std::to_string(bad_value[t]) + " is out of range");
  }
  s.rows += view.rows;
}

DataStats StatsAccumulator::finish(const std::optional<NumericMissing>& numeric_missing) const {
  const State& s = *state_;
  if (s.rows == 0) throw Error("data statistics: no rows");
  const size_t numeric = size_t(s.widths.numeric), tables = s.used.size();
  if (numeric_missing && numeric_missing->size() != numeric) {
    throw Error("data statistics: " + std::to_string(numeric_missing->size()) + " missing counts for " +
                std::to_string(numeric) + " numeric features");
  }
  DataStats stats;
  stats.rows = s.rows;
  stats.numeric.resize(numeric);
  stats.sparse.resize(tables);
  stats.numeric_names = s.numeric_names;
  stats.table_names = s.table_names;
  const double n = static_cast<double>(s.rows);
  stats.positive_rate = s.numeric.positives / n;
  for (size_t j = 0; j < numeric; ++j) {
    stats.numeric[j].mean = s.numeric.sum[j] / n;
    stats.numeric[j].max = s.numeric.max[j];
    if (numeric_missing) stats.numeric[j].missing_share = static_cast<double>((*numeric_missing)[j]) / n;
  }
  for (size_t t = 0; t < tables; ++t) {
    const uint64_t distinct = s.used[static_cast<size_t>(t)].count();
    stats.sparse[t].missing_share = static_cast<double>(s.missing[t]) / n;
    stats.sparse[t].distinct_rows = distinct;
    stats.sparse[t].used_share = static_cast<double>(distinct) / static_cast<double>(uint64_t{s.hashing.rows[t]} - 1);
  }
  return stats;
}

DataStats compute_stats(const DataParts& data, const HashingConfig& hashing,
                        const std::optional<NumericMissing>& numeric_missing) {
  return compute_stats(data, FeatureSchema::criteo(), hashing, numeric_missing);
}

DataStats compute_stats(const DataParts& data, const FeatureSchema& schema, const HashingConfig& hashing,
                        const std::optional<NumericMissing>& numeric_missing) {
  StatsAccumulator accumulator(schema, hashing);
  for (const DataView& view : data.parts()) accumulator.add(view);
  return accumulator.finish(numeric_missing);
}

}  // namespace shadowsync::data
