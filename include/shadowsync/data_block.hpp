// DataBlock: an owning, columnar block of CTR examples in memory (what the TSV parser produces,
// and what tests and generators build by hand). view() gives the DataView every consumer reads.
// Layout: see include/shadowsync/data_view.hpp. Movable, not copyable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "shadowsync/data_view.hpp"
#include "shadowsync/hashing.hpp"

namespace shadowsync {

class DataBlock {
 public:
  DataBlock() = default;
  // A zero-filled block of `rows` examples (labels 0, dense 0, sparse 0 = missing).
  explicit DataBlock(size_t rows);
  // A block of `rows` examples whose values are left unset (no zero-fill pass): the caller
  // must write every value before reading the block (the parser does).
  static DataBlock uninitialized(size_t rows);

  DataBlock(DataBlock&&) noexcept = default;
  DataBlock& operator=(DataBlock&&) noexcept = default;
  DataBlock(const DataBlock&) = delete;
  DataBlock& operator=(const DataBlock&) = delete;

  size_t rows() const { return rows_; }
  float* labels() { return labels_.get(); }
  float* dense() { return dense_.get(); }
  uint32_t* sparse() { return sparse_.get(); }
  const float* labels() const { return labels_.get(); }
  const float* dense() const { return dense_.get(); }
  const uint32_t* sparse() const { return sparse_.get(); }

  DataView view() const { return DataView{rows_, labels_.get(), dense_.get(), sparse_.get()}; }

  // Keeps the first `rows` examples (rows <= rows(); the memory is not reallocated).
  void truncate(size_t rows);

 private:
  size_t rows_ = 0;
  std::unique_ptr<float[]> labels_;
  std::unique_ptr<float[]> dense_;
  std::unique_ptr<uint32_t[]> sparse_;
};

// Checks that a view holds well-formed examples: labels exactly 0 or 1, dense values finite and
// >= 0, sparse rows < hashing.rows[t]. Throws shadowsync::Error "`where`: row R: what" at the
// first violation.
void validate_view(const DataView& view, const HashingConfig& hashing, const std::string& where);

}  // namespace shadowsync
