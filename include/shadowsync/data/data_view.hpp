// DataView: a read-only, columnar view of a block of CTR examples, the one type every consumer
// (model step, trainer, evaluation) reads. Owners are DataBlock (parsed in memory) and
// MappedCache (an mmapped binary cache); a view never owns memory and must not outlive them.
//
// Layout, for rows examples of a schema with N numeric features, S categorical (one-hot) and M
// multi-hot features (feature order: feature_schema.hpp):
//   labels[i]                      0.0f or 1.0f
//   numeric[i * N + j]             already transformed (log(1 + max(x, 0)) for Criteo), missing = 0
//   sparse[i * S + t]              row index into table t, already hashed (0 = missing)
//   multi-hot feature m of row i:  the rows bag_ids[bag_offsets[i * M + m] .. bag_offsets[i * M + m + 1])
//                                  of table S + m (an empty list: missing). bag_offsets holds
//                                  rows * M + 1 non-decreasing entries, absolute indices into
//                                  bag_ids, so a slice shares bag_ids and moves bag_offsets only.
// The widths default to Criteo's layout (N = 13, S = 26, M = 0).
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

// The widths of a DataView: N, S and M above.
struct FeatureWidths {
  int numeric = kNumNumeric;
  int sparse = kNumSparse;
  int multi_hot = 0;
  int tables() const { return sparse + multi_hot; }
  friend bool operator==(const FeatureWidths&, const FeatureWidths&) = default;
};

struct DataView {
  size_t rows = 0;
  const float* labels = nullptr;
  const float* numeric = nullptr;
  const uint32_t* sparse = nullptr;
  int numeric_width = kNumNumeric;  // N
  int sparse_width = kNumSparse;    // S
  int multi_hot = 0;                // M
  const uint64_t* bag_offsets = nullptr;  // rows * M + 1 entries (null when M = 0)
  const uint32_t* bag_ids = nullptr;

  int tables() const { return sparse_width + multi_hot; }
  FeatureWidths widths() const { return FeatureWidths{numeric_width, sparse_width, multi_hot}; }
  // The list of multi-hot feature m of row i: [begin, end) into bag_ids.
  uint64_t bag_begin(size_t i, int m) const { return bag_offsets[i * size_t(multi_hot) + size_t(m)]; }
  uint64_t bag_end(size_t i, int m) const { return bag_offsets[i * size_t(multi_hot) + size_t(m) + 1]; }

  // Rows [begin, end) of this view. Requires begin <= end <= rows.
  DataView slice(size_t begin, size_t end) const {
    DataView v = *this;
    v.rows = end - begin;
    v.labels = labels + begin;
    v.numeric = numeric + begin * size_t(numeric_width);
    v.sparse = sparse + begin * size_t(sparse_width);
    if (bag_offsets != nullptr) v.bag_offsets = bag_offsets + begin * size_t(multi_hot);
    return v;
  }
};

}  // namespace shadowsync
