// RowGradientSums: the distinct embedding rows a batch touched, table by table, each with the sum
// of its gradients -- what the step's row-wise update reads, one entry per distinct row.
//
// Contract:
//  - Per batch: begin_batch(dim, ids) with ids >= every add() call of the batch; then per table,
//    in increasing table order, begin_table(table, ids_of_table) and that table's add() calls.
//  - Rows are kept in the order of their first add() within the table. Their gradients are summed
//    in call order: a row added once keeps a pointer to the caller's gradient (which must outlive
//    the batch's reads), a row added again gets g1 + g2 + ... in a buffer of its own; add_divided
//    always copies g / divisor. The sum starts from the first gradient, not from 0: it can differ
//    from 0 + g1 + g2 + ... only in the sign of a zero (the step's update adds +0 before use).
//  - Duplicates are found with an open-addressing map of 8 slots per id of the table (at least 2
//    per id for tables of more than 2048 ids), cleared per table: no sort, about one probe per id.
// Not thread-safe: one per worker (ModelWorkspace holds it).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace shadowsync {

class RowGradientSums {
 public:
  // Sizes the buffers for batches of up to `ids` add() calls and tables of up to `table_ids`, so
  // that such batches allocate nothing (a larger one grows them).
  void reserve(int dim, size_t ids, size_t table_ids) {
    begin_batch(dim, ids);
    begin_table(0, table_ids);
  }

  // Starts a batch of at most `ids` add() calls of `dim` floats each.
  void begin_batch(int dim, size_t ids) {
    dim_ = size_t(dim);
    size_ = 0;
    if (rows_.size() < ids) {
      rows_.resize(ids);
      tables_.resize(ids);
      grads_.resize(ids);
      owned_.resize(ids);
    }
    if (sums_.size() < ids * dim_) sums_.resize(ids * dim_);
    sums_used_ = 0;
  }

  // Starts `table`'s rows; `ids`: the number of add() calls it will get.
  void begin_table(int table, size_t ids) {
    table_ = table;
    const size_t capacity = capacity_for(ids);
    shift_ = 32 - std::countr_zero(capacity);
    if (slot_index_.size() < capacity) {
      slot_index_.resize(capacity);
      slot_row_.resize(capacity);
    }
    std::fill_n(slot_index_.begin(), capacity, -1);
    mask_ = uint32_t(capacity - 1);
  }

  // One occurrence of `row` with gradient g (dim floats).
  void add(uint32_t row, const float* g) {
    const int32_t u = find_or_insert(row);
    if (u < 0) {
      grads_[size_ - 1] = g;
      owned_[size_ - 1] = 0;
      return;
    }
    float* sum = own_sum(size_t(u));
    for (size_t k = 0; k < dim_; ++k) sum[k] += g[k];
  }

  // One occurrence of `row` with gradient g / divisor (a mean-pooled list's share).
  void add_divided(uint32_t row, const float* g, float divisor) {
    const int32_t u = find_or_insert(row);
    if (u < 0) {
      float* sum = new_sum(size_ - 1);
      for (size_t k = 0; k < dim_; ++k) sum[k] = g[k] / divisor;
      return;
    }
    float* sum = own_sum(size_t(u));
    for (size_t k = 0; k < dim_; ++k) sum[k] += g[k] / divisor;
  }

  // Slots of the map for a table of `ids` add() calls: 8 per id while that fits in kSparseSlots,
  // so that most probes find their slot at once (an occupied slot is a mispredicted branch: at 2
  // slots per id the kaggle step's repeat search took twice as long); then at least 2 per id, so
  // that a long multi-hot table's map is not cleared at 8 times its size.
  static size_t capacity_for(size_t ids) {
    constexpr size_t kSparseSlots = size_t(1) << 14, kSparse = 8, kDense = 2, kMinimum = 16;
    const size_t n = std::max<size_t>(ids, 1);
    const size_t wanted = n * kSparse <= kSparseSlots ? n * kSparse : std::max(kSparseSlots, n * kDense);
    return std::bit_ceil(std::max(wanted, kMinimum));
  }

  size_t size() const { return size_; }
  int table(size_t u) const { return tables_[u]; }
  uint32_t row(size_t u) const { return rows_[u]; }
  const float* grad(size_t u) const { return grads_[u]; }

 private:
  // The index of `row` in this table, or -1 after appending it (its gradient to be set).
  int32_t find_or_insert(uint32_t row) {
    uint32_t slot = (row * 0x9E3779B1u) >> shift_;
    while (slot_index_[slot] >= 0) {
      if (slot_row_[slot] == row) return slot_index_[slot];
      slot = (slot + 1) & mask_;
    }
    slot_index_[slot] = int32_t(size_);
    slot_row_[slot] = row;
    rows_[size_] = row;
    tables_[size_] = table_;
    ++size_;
    return -1;
  }

  // A buffer of dim floats of this batch's, now row u's gradient (its values to be set).
  float* new_sum(size_t u) {
    float* sum = sums_.data() + sums_used_;
    sums_used_ += dim_;
    grads_[u] = sum;
    owned_[u] = 1;
    return sum;
  }

  // Row u's gradient in a buffer of its own: on first use, a new one holding its first gradient.
  float* own_sum(size_t u) {
    if (owned_[u]) return const_cast<float*>(grads_[u]);  // it points into sums_
    const float* first = grads_[u];
    float* sum = new_sum(u);
    std::copy_n(first, dim_, sum);
    return sum;
  }

  size_t dim_ = 0;
  size_t size_ = 0;  // distinct rows so far (the arrays below are sized for the batch's ids)
  int table_ = 0;
  int shift_ = 28;
  uint32_t mask_ = 0;
  std::vector<uint32_t> rows_;
  std::vector<int> tables_;
  std::vector<const float*> grads_;
  std::vector<uint8_t> owned_;  // 0: grads_ points at the caller's gradient; 1: into sums_
  std::vector<float> sums_;
  size_t sums_used_ = 0;
  std::vector<int32_t> slot_index_;
  std::vector<uint32_t> slot_row_;
};

}  // namespace shadowsync
