// EmbeddingStore: the embedding tables (one per table of the schema: 26 for Criteo; any number,
// zero included) every worker of every group shares, and their
// row-wise Adagrad accumulators.
//
// Layout: table t is one contiguous block of rows(t) x row_stride() floats (allocated from the
// MemoryResource given, 64-byte aligned); row r starts at r * row_stride(). row_stride() is dim()
// rounded up to a power of two when dim <= 16 (so 4, 8 or 16 floats: a row never straddles a
// 64-byte cache line and one gather touches one line) and to a multiple of 16 floats otherwise.
// Padding floats are zero and stay zero. accumulator(t) is rows(t) floats, one per row.
//
// Concurrency: Hogwild workers read and update rows concurrently. Every access the model makes
// to a row or an accumulator is a relaxed std::atomic_ref<float> load or store (aligned 4-byte,
// so plain moves on x86); lost updates between threads are the accepted Hogwild semantics.
// Whole-table accesses (init, checkpoints) must not run concurrently with training.
#pragma once

#include <vector>
#include <cstddef>
#include <cstdint>

#include "shadowsync/data/hashing.hpp"
#include "shadowsync/core/memory.hpp"

namespace shadowsync {

class EmbeddingStore {
 public:
  // Zero-filled tables. Throws Error for dim <= 0 or a table with fewer than 2 rows.
  EmbeddingStore(const HashingConfig& hashing, int dim, MemoryResource& resource = default_memory());
  ~EmbeddingStore();
  EmbeddingStore(const EmbeddingStore&) = delete;
  EmbeddingStore& operator=(const EmbeddingStore&) = delete;

  // Row r (< rows(table)) of table (< tables()); no bounds check (callers check indices).
  float* row(int table, uint32_t r) { return tables_[table] + size_t{r} * stride_; }
  const float* row(int table, uint32_t r) const { return tables_[table] + size_t{r} * stride_; }
  float* accumulator(int table) { return accumulators_[table]; }
  const float* accumulator(int table) const { return accumulators_[table]; }

  int dim() const { return dim_; }
  int row_stride() const { return stride_; }
  int tables() const { return int(rows_.size()); }
  size_t rows(int table) const { return rows_[table]; }
  const HashingConfig& hashing() const { return hashing_; }

  // Whole tables, padding included (rows(t) * row_stride() floats), for checkpoints.
  size_t table_floats(int table) const { return rows_[table] * size_t(stride_); }
  // Bytes of every table (padding included) and its accumulator: what a checkpoint stores of them.
  uint64_t state_bytes() const {
    uint64_t bytes = 0;
    for (int t = 0; t < tables(); ++t) bytes += (table_floats(t) + rows(t)) * sizeof(float);
    return bytes;
  }
  float* table_data(int table) { return tables_[table]; }
  const float* table_data(int table) const { return tables_[table]; }

  static int stride_for_dim(int dim);

 private:
  HashingConfig hashing_;
  int dim_;
  int stride_;
  MemoryResource* resource_;
  std::vector<size_t> rows_;
  std::vector<float*> tables_;
  std::vector<float*> accumulators_;
};

}  // namespace shadowsync
