// DataParts: several DataViews read as one sequence of rows, in order, without copying them
// (the training rows of several files or caches: `train --data day_0.bin ... day_22.bin`).
// Row i of the sequence is row i - start(p) of the part p holding it. Like DataView it owns no
// memory: its parts' owners (Dataset) must outlive it.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "shadowsync/data/data_block.hpp"
#include "shadowsync/data/data_view.hpp"

namespace shadowsync {

class DataParts {
 public:
  DataParts() = default;
  // One part (a DataView converts implicitly: every consumer of parts accepts a plain view).
  DataParts(DataView one);  // NOLINT(google-explicit-constructor)
  // The parts in order; empty ones are dropped.
  explicit DataParts(const std::vector<DataView>& parts);

  size_t rows() const { return rows_; }
  const std::vector<DataView>& parts() const { return parts_; }

  // Rows [begin, end) as parts (a part cut at the ends). Requires begin <= end <= rows().
  DataParts slice(size_t begin, size_t end) const;

  // Rows [begin, end) as one view without copying when one part holds them all; nullopt when
  // they cross from one part into the next. Requires begin <= end <= rows().
  std::optional<DataView> contiguous(size_t begin, size_t end) const;

  // Rows [begin, end) as one view: contiguous() when possible, else the rows copied into
  // `scratch` (reused across calls; the view points into it until its next use). A batch
  // that crosses files therefore holds exactly the rows it would hold in their concatenation.
  DataView rows(size_t begin, size_t end, DataBlock& scratch) const;

  // The rows [begin, end) copied into one block.
  DataBlock copy(size_t begin, size_t end) const;

 private:
  // Index of the part holding row `row` (row < rows()).
  size_t part_of(size_t row) const;
  std::vector<DataView> parts_;
  std::vector<size_t> starts_;  // starts_[p] = first row of part p in the sequence
  size_t rows_ = 0;
};

}  // namespace shadowsync
