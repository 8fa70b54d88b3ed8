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

#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/feature_transform.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

namespace {
void check_widths(const FeatureWidths& w) {
  if (w.numeric < 0 || w.sparse < 0 || w.multi_hot < 0) {
    throw Error(fmt::format("DataBlock: negative widths {} numeric, {} categorical, {} multi-hot", w.numeric, w.sparse,
                            w.multi_hot));
  }
}
}  // namespace

DataBlock::DataBlock(size_t rows, FeatureWidths widths)
    : rows_(rows),
      capacity_(rows),
      widths_(widths),
      labels_(std::make_unique<float[]>(rows)),
      numeric_(std::make_unique<float[]>(rows * size_t(widths.numeric))),
      sparse_(std::make_unique<uint32_t[]>(rows * size_t(widths.sparse))) {
  check_widths(widths);
  if (widths.multi_hot > 0) bag_offsets_.assign(rows * size_t(widths.multi_hot) + 1, 0);
}

DataBlock DataBlock::uninitialized(size_t rows, FeatureWidths widths) { return uninitialized(rows, rows, widths); }

DataBlock DataBlock::uninitialized(size_t rows, size_t capacity, FeatureWidths widths) {
  check_widths(widths);
  capacity = std::max(capacity, rows);
  DataBlock block;
  block.rows_ = rows;
  block.capacity_ = capacity;
  block.widths_ = widths;
  block.labels_ = std::make_unique_for_overwrite<float[]>(capacity);
  block.numeric_ = std::make_unique_for_overwrite<float[]>(capacity * size_t(widths.numeric));
  block.sparse_ = std::make_unique_for_overwrite<uint32_t[]>(capacity * size_t(widths.sparse));
  if (widths.multi_hot > 0) block.bag_offsets_.resize(rows * size_t(widths.multi_hot) + 1);
  return block;
}

DataView DataBlock::view() const {
  DataView v{rows_, labels_.get(), numeric_.get(), sparse_.get()};
  v.numeric_width = widths_.numeric;
  v.sparse_width = widths_.sparse;
  v.multi_hot = widths_.multi_hot;
  if (widths_.multi_hot > 0) {
    v.bag_offsets = bag_offsets_.data();
    v.bag_ids = bag_ids_.data();
  }
  return v;
}

bool DataBlock::reuse_for(size_t rows) {
  if (labels_ == nullptr || rows > capacity_) return false;
  rows_ = rows;
  if (widths_.multi_hot > 0) bag_offsets_.resize(rows * size_t(widths_.multi_hot) + 1);
  return true;
}

void DataBlock::truncate(size_t rows) {
  if (rows > rows_) {
    throw Error("DataBlock::truncate: " + std::to_string(rows) + " rows asked, block has " +
                std::to_string(rows_));
  }
  rows_ = rows;
  if (widths_.multi_hot > 0) {
    bag_offsets_.resize(rows * size_t(widths_.multi_hot) + 1);
    bag_ids_.resize(bag_offsets_.back());
  }
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
  if (view.widths() != FeatureWidths{} || hashing.tables() != kNumSparse) {
    throw Error(fmt::format("{}: widths {}/{}/{} and {} tables are not Criteo's layout (validate "
                            "them with their schema)",
                            where, view.numeric_width, view.sparse_width, view.multi_hot,
                            hashing.tables()));
  }
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

namespace {

// What is wrong with row i of a view of `schema` ("" for a good row).
std::string describe_schema_row(const DataView& view, const FeatureSchema& schema,
                                const HashingConfig& hashing, size_t i, float min_positive,
                                float max_numeric) {
  const float label = view.labels[i];
  if (label != 0.0f && label != 1.0f) return fmt::format("label {} is not 0 or 1", label);
  const size_t n = size_t(view.numeric_width), s = size_t(view.sparse_width), m = size_t(view.multi_hot);
  for (size_t j = 0; j < n; ++j) {
    const float x = view.numeric[i * n + j];
    const SchemaColumn& col = schema.columns[size_t(schema.numeric_column(int(j)))];
    if (col.transform == NumericTransformKind::Identity) {
      if (!(std::isfinite(x) && std::fabs(static_cast<double>(x)) < 1e30)) {
        return fmt::format("numeric {} value {} is not finite or not below 1e30 in magnitude",
                           col.name, x);
      }
    } else if (!(x == 0.0f || (x >= min_positive && x <= max_numeric))) {
      return fmt::format("numeric {} value {} is not a value the parser produces (0 or log1p(x) "
                         "for 1 <= x < 2^63, at most {:.3f})",
                         col.name, x, max_numeric);
    }
  }
  for (size_t t = 0; t < s; ++t) {
    const uint32_t row = view.sparse[i * s + t];
    if (row >= hashing.rows[t]) {
      return fmt::format("categorical {} row {} is out of range (table has {} rows)",
                         schema.table_name(int(t)), row, hashing.rows[t]);
    }
  }
  for (size_t k = 0; k < m; ++k) {
    const uint64_t b = view.bag_offsets[i * m + k], e = view.bag_offsets[i * m + k + 1];
    const std::string& name = schema.table_name(int(s + k));
    if (e < b || e > view.bag_offsets[view.rows * m]) {
      return fmt::format("multi-hot {} offsets {}..{} are decreasing or beyond the ids", name, b, e);
    }
    const uint32_t rows = hashing.rows[s + k];
    for (uint64_t p = b; p < e; ++p) {
      if (view.bag_ids[p] == 0 || view.bag_ids[p] >= rows) {
        return fmt::format("multi-hot {} id {} is out of range (1 to {})", name, view.bag_ids[p],
                           rows - 1);
      }
    }
  }
  return {};
}

}  // namespace

void validate_view(const DataView& view, const FeatureSchema& schema, const HashingConfig& hashing,
                   const std::string& where) {
  const FeatureWidths want{schema.numeric_count(), schema.categorical_count(), schema.multi_hot_count()};
  if (view.widths() != want) {
    throw Error(fmt::format("{}: widths {}/{}/{} (numeric/categorical/multi-hot) but the schema has "
                            "{}/{}/{}",
                            where, view.numeric_width, view.sparse_width, view.multi_hot,
                            want.numeric, want.sparse, want.multi_hot));
  }
  if (hashing.tables() != schema.table_count()) {
    throw Error(fmt::format("{}: the hashing config has {} tables but the schema has {}", where,
                            hashing.tables(), schema.table_count()));
  }
  if (view.multi_hot > 0 && view.rows > 0) {
    // Every list empty: no ids, and an empty id vector may have no memory (bag_ids null).
    if (view.bag_offsets == nullptr ||
        (view.bag_ids == nullptr && view.bag_offsets[view.rows * size_t(view.multi_hot)] != view.bag_offsets[0])) {
      throw Error(where + ": multi-hot lists without offsets or ids");
    }
  }
  const float min_positive = transform_numeric(1);
  const float max_numeric = max_numeric_value();
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  std::atomic<size_t> first_bad{kNone};
  tbb::parallel_for(tbb::blocked_range<size_t>(0, view.rows, size_t{1} << 12),
                    [&](const tbb::blocked_range<size_t>& r) {
                      for (size_t i = r.begin(); i != r.end(); ++i) {
                        if (i > first_bad.load(std::memory_order_relaxed)) return;
                        if (describe_schema_row(view, schema, hashing, i, min_positive, max_numeric).empty()) {
                          continue;
                        }
                        size_t seen = first_bad.load(std::memory_order_relaxed);
                        while (i < seen && !first_bad.compare_exchange_weak(
                                               seen, i, std::memory_order_relaxed)) {
                        }
                        return;
                      }
                    });
  const size_t row = first_bad.load();
  if (row != kNone) {
    throw Error(fmt::format("{}: row {}: {}", where, row,
                            describe_schema_row(view, schema, hashing, row, min_positive, max_numeric)));
  }
}

}  // namespace shadowsync

namespace shadowsync {

DataBlock concatenate(const std::vector<DataView>& parts) {
  size_t rows = 0;
  const FeatureWidths widths = parts.empty() ? FeatureWidths{} : parts.front().widths();
  for (const DataView& p : parts) {
    if (p.widths() != widths) {
      throw Error(fmt::format("concatenate: parts of different widths ({}/{}/{} and {}/{}/{} numeric/categorical/multi-hot)",
                              widths.numeric, widths.sparse, widths.multi_hot, p.numeric_width, p.sparse_width,
                              p.multi_hot));
    }
    rows += p.rows;
  }
  DataBlock out = DataBlock::uninitialized(rows, widths);
  const size_t n = size_t(widths.numeric), s = size_t(widths.sparse), m = size_t(widths.multi_hot);
  size_t at = 0;
  uint64_t ids = 0;
  for (const DataView& p : parts) {
    if (p.rows == 0) continue;
    std::memcpy(out.labels() + at, p.labels, p.rows * sizeof(float));
    if (n > 0) std::memcpy(out.numeric() + at * n, p.numeric, p.rows * n * sizeof(float));
    if (s > 0) std::memcpy(out.sparse() + at * s, p.sparse, p.rows * s * sizeof(uint32_t));
    if (m > 0) {
      // Offsets are absolute in each part: rebase them onto the joined id list.
      const uint64_t first = p.bag_offsets[0], last = p.bag_offsets[p.rows * m];
      for (size_t k = 0; k < p.rows * m; ++k) out.bag_offsets()[at * m + k] = ids + (p.bag_offsets[k] - first);
      out.bag_ids().insert(out.bag_ids().end(), p.bag_ids + first, p.bag_ids + last);
      ids += last - first;
    }
    at += p.rows;
  }
  if (m > 0) out.bag_offsets()[rows * m] = ids;
  return out;
}

}  // namespace shadowsync
