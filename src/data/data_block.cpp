// DataBlock storage and validate_view (the range checks shared by the cache writer and reader).
#include "shadowsync/data_block.hpp"

#include <cmath>

#include "shadowsync/error.hpp"

namespace shadowsync {

DataBlock::DataBlock(size_t rows)
    : rows_(rows),
      labels_(std::make_unique<float[]>(rows)),
      dense_(std::make_unique<float[]>(rows * kNumDense)),
      sparse_(std::make_unique<uint32_t[]>(rows * kNumSparse)) {}

DataBlock DataBlock::uninitialized(size_t rows) {
  DataBlock block;
  block.rows_ = rows;
  block.labels_ = std::make_unique_for_overwrite<float[]>(rows);
  block.dense_ = std::make_unique_for_overwrite<float[]>(rows * kNumDense);
  block.sparse_ = std::make_unique_for_overwrite<uint32_t[]>(rows * kNumSparse);
  return block;
}

void DataBlock::truncate(size_t rows) {
  if (rows > rows_) {
    throw Error("DataBlock::truncate: " + std::to_string(rows) + " rows asked, block has " +
                std::to_string(rows_));
  }
  rows_ = rows;
}

void validate_view(const DataView& view, const HashingConfig& hashing, const std::string& where) {
  const auto fail = [&](size_t row, const std::string& what) {
    throw Error(where + ": row " + std::to_string(row) + ": " + what);
  };
  for (size_t i = 0; i < view.rows; ++i) {
    const float label = view.labels[i];
    if (label != 0.0f && label != 1.0f) fail(i, "label is not 0 or 1");
  }
  for (size_t i = 0; i < view.rows * kNumDense; ++i) {
    const float x = view.dense[i];
    if (!(x >= 0.0f) || !std::isfinite(x)) {
      fail(i / kNumDense, "dense I" + std::to_string(i % kNumDense + 1) +
                              " is negative or not finite");
    }
  }
  for (size_t i = 0; i < view.rows; ++i) {
    const uint32_t* row = view.sparse + i * kNumSparse;
    for (int t = 0; t < kNumSparse; ++t) {
      if (row[t] >= hashing.rows[t]) {
        fail(i, "sparse C" + std::to_string(t + 1) + " row " + std::to_string(row[t]) +
                    " is out of range (table has " + std::to_string(hashing.rows[t]) + " rows)");
      }
    }
  }
}

}  // namespace shadowsync
