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
  const DataParts crossing = slice(begin, end);
  const FeatureWidths widths = crossing.parts().front().widths();
  if (scratch.widths() != widths || !scratch.reuse_for(rows)) scratch = DataBlock::uninitialized(rows, widths);
  const size_t n = size_t(widths.numeric), s = size_t(widths.sparse), m = size_t(widths.multi_hot);
  if (m > 0) {
    scratch.bag_ids().clear();
    scratch.bag_offsets()[0] = 0;
  }
  size_t at = 0;
  for (const DataView& p : crossing.parts()) {
    std::memcpy(scratch.labels() + at, p.labels, p.rows * sizeof(float));
    if (n > 0) std::memcpy(scratch.numeric() + at * n, p.numeric, p.rows * n * sizeof(float));
    if (s > 0) std::memcpy(scratch.sparse() + at * s, p.sparse, p.rows * s * sizeof(uint32_t));
    if (m > 0) {  // lists: offsets rebased onto the scratch's id list
      const uint64_t first = p.bag_offsets[0], last = p.bag_offsets[p.rows * m], base = scratch.bag_ids().size();
      for (size_t k = 0; k < p.rows * m; ++k) scratch.bag_offsets()[at * m + k + 1] = base + (p.bag_offsets[k + 1] - first);
      scratch.bag_ids().insert(scratch.bag_ids().end(), p.bag_ids + first, p.bag_ids + last);
    }
    at += p.rows;
  }
  return scratch.view();
}

DataBlock DataParts::copy(size_t begin, size_t end) const { return concatenate(slice(begin, end).parts()); }

}  // namespace shadowsync
