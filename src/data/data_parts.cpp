// DataParts: locating rows across parts, cutting slices, and copying the rows of a range that
// crosses parts.
#include "shadowsync/data/data_parts.hpp"

#include <algorithm>
#include <cstring>

namespace shadowsync {

DataParts::DataParts(DataView one) : DataParts(std::vector<DataView>{one}) {}

DataParts::DataParts(const std::vector<DataView>& parts) {
  for (const DataView& p : parts) {
    if (p.rows == 0) continue;
    parts_.push_back(p);
    starts_.push_back(rows_);
    rows_ += p.rows;
  }
}

size_t DataParts::part_of(size_t row) const {
  // The last part whose start is <= row.
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), row);
  return static_cast<size_t>(it - starts_.begin()) - 1;
}

DataParts DataParts::slice(size_t begin, size_t end) const {
  std::vector<DataView> out;
  if (begin < end) {
    for (size_t p = part_of(begin); p < parts_.size() && starts_[p] < end; ++p) {
      const size_t from = std::max(begin, starts_[p]) - starts_[p];
      const size_t to = std::min(end, starts_[p] + parts_[p].rows) - starts_[p];
      out.push_back(parts_[p].slice(from, to));
    }
  }
  return DataParts(out);
}

std::optional<DataView> DataParts::contiguous(size_t begin, size_t end) const {
  if (begin == end) return DataView{};
  const size_t p = part_of(begin);
  if (end > starts_[p] + parts_[p].rows) return std::nullopt;
  return parts_[p].slice(begin - starts_[p], end - starts_[p]);
}

DataView DataParts::rows(size_t begin, size_t end, DataBlock& scratch) const {
  if (std::optional<DataView> view = contiguous(begin, end)) return *view;
  const size_t rows = end - begin;
  if (!scratch.reuse_for(rows)) scratch = DataBlock::uninitialized(rows);
  size_t at = 0;
  const DataParts crossing = slice(begin, end);
  for (const DataView& p : crossing.parts()) {
    std::memcpy(scratch.labels() + at, p.labels, p.rows * sizeof(float));
    std::memcpy(scratch.numeric() + at * kNumNumeric, p.numeric, p.rows * kNumNumeric * sizeof(float));
    std::memcpy(scratch.sparse() + at * kNumSparse, p.sparse, p.rows * kNumSparse * sizeof(uint32_t));
    at += p.rows;
  }
  return scratch.view();
}

DataBlock DataParts::copy(size_t begin, size_t end) const { return concatenate(slice(begin, end).parts()); }

}  // namespace shadowsync
