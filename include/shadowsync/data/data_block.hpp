// DataBlock: an owning, columnar block of CTR examples in memory (what the TSV parser produces,
// and what tests and generators build by hand). view() gives the DataView every consumer reads.
// Layout: see include/shadowsync/data/data_view.hpp. Movable, not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/data/hashing.hpp"

namespace shadowsync {

class DataBlock {
 public:
  DataBlock() = default;
  // A zero-filled block of `rows` examples of the given widths (Criteo's by default): labels 0,
  // numeric 0, sparse 0 = missing, every multi-hot list empty.
  explicit DataBlock(size_t rows, FeatureWidths widths = {});
  // A block of `rows` examples whose values are left unset (no zero-fill pass): the caller
  // must write every value before reading the block (the parser does), bag offsets included
  // (bag_offsets() has rows * M + 1 entries; bag_ids() is empty, the caller fills it).
  static DataBlock uninitialized(size_t rows, FeatureWidths widths = {});
  // The same with memory for `capacity` rows (at least `rows`), for reuse_for() by larger
  // blocks later. Pages of the unused rows are never touched, so they cost address space only.
  static DataBlock uninitialized(size_t rows, size_t capacity, FeatureWidths widths = {});

  DataBlock(DataBlock&&) noexcept = default;
  DataBlock& operator=(DataBlock&&) noexcept = default;
  DataBlock(const DataBlock&) = delete;
  DataBlock& operator=(const DataBlock&) = delete;

  size_t rows() const { return rows_; }
  const FeatureWidths& widths() const { return widths_; }
  float* labels() { return labels_.get(); }
  float* numeric() { return numeric_.get(); }
  uint32_t* sparse() { return sparse_.get(); }
  const float* labels() const { return labels_.get(); }
  const float* numeric() const { return numeric_.get(); }
  const uint32_t* sparse() const { return sparse_.get(); }
  // Multi-hot lists (layout: data_view.hpp): rows * M + 1 offsets into bag_ids (empty when M = 0).
  std::vector<uint64_t>& bag_offsets() { return bag_offsets_; }
  std::vector<uint32_t>& bag_ids() { return bag_ids_; }
  const std::vector<uint64_t>& bag_offsets() const { return bag_offsets_; }
  const std::vector<uint32_t>& bag_ids() const { return bag_ids_; }

  DataView view() const;

  // Makes the block `rows` rows long, values unset, when its memory (the rows it was created
  // with) is large enough: true; otherwise false and nothing changes. Lets a reader reuse one
  // block for many buffers instead of faulting in fresh pages each time.
  bool reuse_for(size_t rows);

  // Keeps the first `rows` examples (rows <= rows(); the memory is not reallocated).
  void truncate(size_t rows);

 private:
  size_t rows_ = 0;
  size_t capacity_ = 0;
  FeatureWidths widths_;
  std::unique_ptr<float[]> labels_;
  std::unique_ptr<float[]> numeric_;
  std::unique_ptr<uint32_t[]> sparse_;
  std::vector<uint64_t> bag_offsets_;
  std::vector<uint32_t> bag_ids_;
};

// One block holding the rows of `parts`, in order (a copy). Used to join several files or the
// buffers of a stream into one training set. Every part must have the same widths (else Error);
// an empty list gives an empty block of Criteo's widths.
DataBlock concatenate(const std::vector<DataView>& parts);

// Largest numeric value the parser can produce: transform_numeric(INT64_MAX) = log1p(2^63 - 1).
float max_numeric_value();

// Checks that a view holds only values the parser can produce: labels exactly 0 or 1; numeric
// values 0 or in [log1p(1), max_numeric_value()] (so not negative, NaN, infinite or huge);
// sparse rows < hashing.rows[t]. Throws shadowsync::Error "`where`: row R: column: what" for the
// smallest bad row R (0-based), e.g. "x.bin: row 7: numeric I3 value 1e+30 is not a value the
// parser produces (0 or log1p(x) for 1 <= x < 2^63, at most 43.668)". One parallel pass (oneTBB).
void validate_view(const DataView& view, const HashingConfig& hashing, const std::string& where);

struct FeatureSchema;
// The same for a view of any widths read with `schema`: labels 0 or 1; numeric feature j, when
// its column is Log1p, as above, when Identity any finite value with |x| < 1e30; sparse rows <
// hashing.rows[t]; multi-hot: bag offsets non-decreasing from bag_offsets[0] and within bag_ids
// (the view's last offset bounds them), ids in 1..rows[S + m]-1. The view's widths must be the
// schema's and hashing.rows must have one entry per table (else Error naming `where`). Errors
// name the smallest bad row and the schema's column: "x.bin: row 7: multi-hot tags id 0 is out
// of range (1 to 4095)".
void validate_view(const DataView& view, const FeatureSchema& schema, const HashingConfig& hashing,
                   const std::string& where);

}  // namespace shadowsync
