// DataBlock storage and validate_view (the range checks shared by the cache writer and reader).
#include "shadowsync/data/data_block.hpp"

#include <fmt/format.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "shadowsync/data/feature_transform.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

DataBlock::DataBlock(size_t rows)
    : rows_(rows),
      capacity_(rows),
      labels_(std::make_unique<float[]>(rows)),
      numeric_(std::make_unique<float[]>(rows * kNumNumeric)),
      sparse_(std::make_unique<uint32_t[]>(rows * kNumSparse)) {}

DataBlock DataBlock::uninitialized(size_t rows) { return uninitialized(rows, rows); }

DataBlock DataBlock::uninitialized(size_t rows, size_t capacity) {
  capacity = std::max(capacity, rows);
  DataBlock block;
  block.rows_ = rows;
  block.capacity_ = capacity;
  block.labels_ = std::make_unique_for_overwrite<float[]>(capacity);
  block.numeric_ = std::make_unique_for_overwrite<float[]>(capacity * kNumNumeric);
  block.sparse_ = std::make_unique_for_overwrite<uint32_t[]>(capacity * kNumSparse);
  return block;
}

bool DataBlock::reuse_for(size_t rows) {
  if (labels_ == nullptr || rows > capacity_) return false;
  rows_ = rows;
  return true;
}

void DataBlock::truncate(size_t rows) {
  if (rows > rows_) {
    throw Error("DataBlock::truncate: " + std::to_string(rows) + " rows asked, block has " +
                std::to_string(rows_));
  }
  rows_ = rows;
}

float max_numeric_value() {
  static const float value = transform_numeric(std::numeric_limits<int64_t>::max());
  return value;
}

namespace {

// What is wrong with row i, or "" for a good row.
std::string describe_bad_row(const DataView& view, const HashingConfig& hashing, size_t i,
                             float min_positive, float max_numeric) {
  const float label = view.labels[i];
  if (label != 0.0f && label != 1.0f) return fmt::format("label {} is not 0 or 1", label);
  const float* numeric = view.numeric + i * kNumNumeric;
  for (int j = 0; j < kNumNumeric; ++j) {
    const float x = numeric[j];
    if (!(x == 0.0f || (x >= min_positive && x <= max_numeric))) {
      return fmt::format(
          "dense I{} value {} is not a value the parser produces (0 or log1p(x) for "
          "1 <= x < 2^63, at most {:.3f})",
          j + 1, x, max_numeric);
    }
  }
  const uint32_t* sparse = view.sparse + i * kNumSparse;
  for (int t = 0; t < kNumSparse; ++t) {
    if (sparse[t] >= hashing.rows[t]) {
      return fmt::format("sparse C{} row {} is out of range (table has {} rows)", t + 1,
                         sparse[t], hashing.rows[t]);
    }
  }
  return {};
}

}  // namespace

void validate_view(const DataView& view, const HashingConfig& hashing, const std::string& where) {
  const float min_positive = transform_numeric(1);
  const float max_numeric = max_numeric_value();
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  // The smallest bad row: each range stops at its first bad row, ranges after a known bad row
  // are skipped.
  std::atomic<size_t> first_bad{kNone};
  // Hot path: per range, one branch-free (vectorizable) loop per column; only a range with a
  // bad value is scanned again row by row for its first bad row.
  std::array<uint32_t, kNumSparse> table_rows;
  std::copy(hashing.rows.begin(), hashing.rows.end(), table_rows.begin());
  const auto range_is_bad = [&](size_t begin, size_t end) {
    uint32_t bad = 0;
    for (size_t i = begin; i != end; ++i) {
      const float label = view.labels[i];
      bad |= static_cast<uint32_t>((label != 0.0f) & (label != 1.0f));
    }
    const float* numeric = view.numeric + begin * kNumNumeric;
    const size_t numeric_count = (end - begin) * kNumNumeric;
    for (size_t k = 0; k != numeric_count; ++k) {
      const float x = numeric[k];
      // NaN fails every comparison: bad.
      bad |= static_cast<uint32_t>(!((x == 0.0f) | ((x >= min_positive) & (x <= max_numeric))));
    }
    const uint32_t* sparse = view.sparse + begin * kNumSparse;
    for (size_t i = 0; i != end - begin; ++i) {
      const uint32_t* row = sparse + i * kNumSparse;
      for (int t = 0; t < kNumSparse; ++t) bad |= static_cast<uint32_t>(row[t] >= table_rows[t]);
    }
    return bad != 0;
  };
  tbb::parallel_for(tbb::blocked_range<size_t>(0, view.rows, size_t{1} << 14),
                    [&](const tbb::blocked_range<size_t>& r) {
                      if (r.begin() > first_bad.load(std::memory_order_relaxed)) return;
                      if (!range_is_bad(r.begin(), r.end())) return;
                      size_t i = r.begin();
                      while (i + 1 < r.end() && !range_is_bad(i, i + 1)) ++i;
                      size_t seen = first_bad.load(std::memory_order_relaxed);
                      while (i < seen && !first_bad.compare_exchange_weak(
                                             seen, i, std::memory_order_relaxed)) {
                      }
                    });
  const size_t row = first_bad.load();
  if (row != kNone) {
    throw Error(fmt::format("{}: row {}: {}", where, row,
                            describe_bad_row(view, hashing, row, min_positive, max_numeric)));
  }
}

}  // namespace shadowsync

namespace shadowsync {

DataBlock concatenate(const std::vector<DataView>& parts) {
  size_t rows = 0;
  for (const DataView& p : parts) rows += p.rows;
  DataBlock out = DataBlock::uninitialized(rows);
  size_t at = 0;
  for (const DataView& p : parts) {
    if (p.rows == 0) continue;
    std::memcpy(out.labels() + at, p.labels, p.rows * sizeof(float));
    std::memcpy(out.numeric() + at * kNumNumeric, p.numeric, p.rows * kNumNumeric * sizeof(float));
    std::memcpy(out.sparse() + at * kNumSparse, p.sparse, p.rows * kNumSparse * sizeof(uint32_t));
    at += p.rows;
  }
  return out;
}

}  // namespace shadowsync
