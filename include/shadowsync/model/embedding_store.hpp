// EmbeddingStore: the embedding tables (one per table of the schema: 26 for Criteo; any number,
// zero included) every worker of every group shares, and their
// row-wise Adagrad accumulators.
//
// Row format (RowFormat, the run option embedding_precision): fp32 rows of floats, or bf16 rows
// of BF16 halves (uint16_t: the upper 16 bits of an fp32). The accumulators are fp32 in both.
//
// Layout: table t is one contiguous block of rows(t) x row_stride() elements (floats or halves;
// allocated from the MemoryResource given, 64-byte aligned); row r starts at r * row_stride().
// row_stride() is dim() rounded up to a power of two when dim <= 16 (so 4, 8 or 16 elements: a
// row never straddles a 64-byte cache line and one gather touches one line) and to a multiple of
// 16 elements otherwise, for either format: a 16-dim fp32 row is 64 bytes (one cache line), a
// 16-dim bf16 row is 32 bytes (two rows per line). A bf16 table's block is rounded up to whole
// 4-byte words (table_words()), which is how checkpoints store it. Padding is zero and stays zero.
// accumulator(t) is rows(t) floats, one per row.
//
// Concurrency: Hogwild workers read and update rows concurrently. Every access the model makes
// to a row element or an accumulator is a relaxed std::atomic_ref<float> (fp32 rows, accumulators)
// or std::atomic_ref<uint16_t> (bf16 rows) load or store (aligned, so plain moves on x86); lost
// updates between threads are the accepted Hogwild semantics.
// Whole-table accesses (init, checkpoints) must not run concurrently with training.
#pragma once

#include <bit>
#include <vector>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "shadowsync/data/hashing.hpp"
#include "shadowsync/core/memory.hpp"

namespace shadowsync {

// The number format of the tables' rows (run option embedding_precision).
enum class RowFormat { Fp32, Bf16 };
// "fp32" or "bf16".
const char* row_format_name(RowFormat format);
// "fp32" or "bf16"; anything else: Error naming field("embedding_precision").
RowFormat parse_row_format(std::string_view text);

// How an updated fp32 value is written back into a bf16 row (run option embedding_rounding):
// to the nearest BF16 (ties to even), or stochastically (rounded up with probability equal to
// the dropped fraction, from a counter-based random source: deterministic for a given state).
enum class RowRounding { Nearest, Stochastic };
const char* row_rounding_name(RowRounding rounding);
// "nearest" or "stochastic"; anything else: Error naming field("embedding_rounding").
RowRounding parse_row_rounding(std::string_view text);

// BF16 <-> fp32. A BF16 is the upper half of an fp32, so widening is exact.
inline float bf16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }
// Round to nearest, ties to even; NaN stays a (quiet) NaN, infinities stay infinite.
inline uint16_t float_to_bf16_nearest(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40u);
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}
// Stochastic rounding: adds 16 random bits (the low half of `random`) below the kept half, so
// the value rounds away from zero in magnitude with probability (dropped bits) / 2^16.
inline uint16_t float_to_bf16_stochastic(float f, uint32_t random) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7FFFFFFFu) >= 0x7F800000u) return (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t((u >> 16) | 0x40u) : uint16_t(u >> 16);
  return uint16_t((u + (random & 0xFFFFu)) >> 16);
}

class EmbeddingStore {
 public:
  // Zero-filled tables. Throws Error for dim <= 0 or a table with fewer than 2 rows.
  EmbeddingStore(const HashingConfig& hashing, int dim, MemoryResource& resource = default_memory());
  EmbeddingStore(const HashingConfig& hashing, int dim, RowFormat format, MemoryResource& resource = default_memory());
  ~EmbeddingStore();
  EmbeddingStore(const EmbeddingStore&) = delete;
  EmbeddingStore& operator=(const EmbeddingStore&) = delete;

  RowFormat format() const { return format_; }
  // Write-back rounding of bf16 rows (ignored for fp32 rows); Nearest unless set.
  RowRounding rounding() const { return rounding_; }
  void set_rounding(RowRounding rounding) { rounding_ = rounding; }

  // Row r (< rows(table)) of table (< tables()); no bounds check (callers check indices).
  // row(): fp32 rows only; row_bf16(): bf16 rows only; row_as<float | uint16_t>(): either.
  float* row(int table, uint32_t r) { return static_cast<float*>(tables_[table]) + size_t{r} * stride_; }
  const float* row(int table, uint32_t r) const { return static_cast<const float*>(tables_[table]) + size_t{r} * stride_; }
  uint16_t* row_bf16(int table, uint32_t r) { return static_cast<uint16_t*>(tables_[table]) + size_t{r} * stride_; }
  const uint16_t* row_bf16(int table, uint32_t r) const {
    return static_cast<const uint16_t*>(tables_[table]) + size_t{r} * stride_;
  }
  template <typename T>
  T* row_as(int table, uint32_t r) { return static_cast<T*>(tables_[table]) + size_t{r} * stride_; }
  template <typename T>
  const T* row_as(int table, uint32_t r) const { return static_cast<const T*>(tables_[table]) + size_t{r} * stride_; }
  // The first byte of a row of either format (for prefetches).
  const void* row_address(int table, uint32_t r) const {
    return static_cast<const char*>(tables_[table]) + size_t{r} * row_bytes_;
  }
  float* accumulator(int table) { return accumulators_[table]; }
  const float* accumulator(int table) const { return accumulators_[table]; }

  int dim() const { return dim_; }
  // Elements (floats or halves) from one row to the next.
  int row_stride() const { return stride_; }
  // Bytes from one row to the next: row_stride() * 4 (fp32) or * 2 (bf16).
  size_t row_bytes() const { return row_bytes_; }
  int tables() const { return int(rows_.size()); }
  size_t rows(int table) const { return rows_[table]; }
  const HashingConfig& hashing() const { return hashing_; }

  // Whole fp32 tables, padding included (rows(t) * row_stride() floats). fp32 rows only.
  size_t table_floats(int table) const { return rows_[table] * size_t(stride_); }
  float* table_data(int table) { return static_cast<float*>(tables_[table]); }
  const float* table_data(int table) const { return static_cast<const float*>(tables_[table]); }
  // A whole table of either format as 4-byte words (a bf16 table rounded up to whole words;
  // the extra half is zero): what a checkpoint stores of it.
  size_t table_words(int table) const { return words_for(rows_[table], stride_, format_); }
  float* table_words_data(int table) { return static_cast<float*>(tables_[table]); }
  const float* table_words_data(int table) const { return static_cast<const float*>(tables_[table]); }
  // Bytes of every table (padding included) and its accumulator: what a checkpoint stores of them.
  uint64_t state_bytes() const {
    uint64_t bytes = 0;
    for (int t = 0; t < tables(); ++t) bytes += (table_words(t) + rows(t)) * sizeof(float);
    return bytes;
  }

  // Row i's value k as an fp32 (either format).
  float value(int table, uint32_t r, int k) const {
    return format_ == RowFormat::Fp32 ? row(table, r)[k] : bf16_to_float(row_bf16(table, r)[k]);
  }

  static int stride_for_dim(int dim);
  // Bytes of one element of a row.
  static size_t element_bytes(RowFormat format) { return format == RowFormat::Fp32 ? 4 : 2; }
  // 4-byte words of a table of `rows` rows of `stride` elements.
  static size_t words_for(size_t rows, int stride, RowFormat format) {
    return (rows * size_t(stride) * element_bytes(format) + 3) / 4;
  }

 private:
  HashingConfig hashing_;
  int dim_;
  int stride_;
  size_t row_bytes_ = 0;
  RowFormat format_ = RowFormat::Fp32;
  RowRounding rounding_ = RowRounding::Nearest;
  MemoryResource* resource_;
  std::vector<size_t> rows_;
  std::vector<void*> tables_;
  std::vector<float*> accumulators_;
};

}  // namespace shadowsync
