// DataView: a read-only, columnar view of a block of CTR examples, the one type every consumer
// (model step, trainer, evaluation) reads. Owners are DataBlock (parsed in memory) and
// MappedCache (an mmapped binary cache); a view never owns memory and must not outlive them.
//
// Layout, for rows examples:
//   labels[i]                      0.0f or 1.0f
//   numeric[i * kNumNumeric + j]       already transformed: log(1 + max(x, 0)), missing = 0
//   sparse[i * kNumSparse + t]     row index into table t, already hashed (0 = missing)
#pragma once

#include <cstddef>
#include <cstdint>

#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

struct DataView {
  size_t rows = 0;
  const float* labels = nullptr;
  const float* numeric = nullptr;
  const uint32_t* sparse = nullptr;

  // Rows [begin, end) of this view. Requires begin <= end <= rows.
  DataView slice(size_t begin, size_t end) const {
    return DataView{end - begin, labels + begin, numeric + begin * kNumNumeric,
                    sparse + begin * kNumSparse};
  }
};

}  // namespace shadowsync
