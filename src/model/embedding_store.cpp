// EmbeddingStore: allocation of the tables (one per entry of hashing.rows, fp32 or bf16 rows)
// and their row-wise Adagrad accumulators; the row format and rounding names.
#include "shadowsync/model/embedding_store.hpp"

#include <cstring>
#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

const char* row_format_name(RowFormat format) { return format == RowFormat::Fp32 ? "fp32" : "bf16"; }

RowFormat parse_row_format(std::string_view text) {
  if (text == "fp32") return RowFormat::Fp32;
  if (text == "bf16") return RowFormat::Bf16;
  throw Error(field("embedding_precision") + " expects fp32 or bf16, got '" + std::string(text) + "'");
}

const char* row_rounding_name(RowRounding rounding) {
  return rounding == RowRounding::Nearest ? "nearest" : "stochastic";
}

RowRounding parse_row_rounding(std::string_view text) {
  if (text == "nearest") return RowRounding::Nearest;
  if (text == "stochastic") return RowRounding::Stochastic;
  throw Error(field("embedding_rounding") + " expects nearest or stochastic, got '" + std::string(text) + "'");
}

int EmbeddingStore::stride_for_dim(int dim) {
  if (dim <= 16) {
    int stride = 1;
    while (stride < dim) stride *= 2;
    return stride;
  }
  return (dim + 15) / 16 * 16;
}

EmbeddingStore::EmbeddingStore(const HashingConfig& hashing, int dim, MemoryResource& resource)
    : EmbeddingStore(hashing, dim, RowFormat::Fp32, resource) {}

EmbeddingStore::EmbeddingStore(const HashingConfig& hashing, int dim, RowFormat format, MemoryResource& resource)
    : hashing_(hashing), dim_(dim), stride_(0), format_(format), resource_(&resource) {
  if (dim < 1) throw Error("embedding store: dim must be >= 1, got " + std::to_string(dim));
  stride_ = stride_for_dim(dim);
  row_bytes_ = size_t(stride_) * element_bytes(format_);
  const int count = hashing.tables();
  rows_.resize(size_t(count));
  tables_.assign(size_t(count), nullptr);
  accumulators_.assign(size_t(count), nullptr);
  for (int t = 0; t < count; ++t) {
    if (hashing.rows[t] < 2) {
      throw Error("embedding store: hashing.rows[" + std::to_string(t) + "] must be >= 2, got " +
                  std::to_string(hashing.rows[t]));
    }
    rows_[t] = hashing.rows[t];
  }
  try {
    for (int t = 0; t < tables(); ++t) {
      tables_[t] = resource.allocate(table_words(t) * sizeof(float));
      // A bf16 table's last word may hold one half past the rows: keep it zero.
      if (format_ == RowFormat::Bf16) std::memset(static_cast<char*>(tables_[t]) + (table_words(t) - 1) * 4, 0, 4);
      accumulators_[t] = static_cast<float*>(resource.allocate(rows_[t] * sizeof(float)));
    }
  } catch (...) {
    for (int t = 0; t < tables(); ++t) {
      if (tables_[t] != nullptr) resource.deallocate(tables_[t], table_words(t) * sizeof(float));
      if (accumulators_[t] != nullptr) resource.deallocate(accumulators_[t], rows_[t] * sizeof(float));
    }
    throw;
  }
}

EmbeddingStore::~EmbeddingStore() {
  for (int t = 0; t < tables(); ++t) {
    resource_->deallocate(tables_[t], table_words(t) * sizeof(float));
    resource_->deallocate(accumulators_[t], rows_[t] * sizeof(float));
  }
}

}  // namespace shadowsync
