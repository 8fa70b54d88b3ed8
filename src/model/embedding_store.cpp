// EmbeddingStore: allocation of the tables (one per entry of hashing.rows) and their row-wise Adagrad accumulators.
#include "shadowsync/model/embedding_store.hpp"

#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

int EmbeddingStore::stride_for_dim(int dim) {
  if (dim <= 16) {
    int stride = 1;
    while (stride < dim) stride *= 2;
    return stride;
  }
  return (dim + 15) / 16 * 16;
}

EmbeddingStore::EmbeddingStore(const HashingConfig& hashing, int dim, MemoryResource& resource)
    : hashing_(hashing), dim_(dim), stride_(0), resource_(&resource) {
  if (dim < 1) throw Error("embedding store: dim must be >= 1, got " + std::to_string(dim));
  stride_ = stride_for_dim(dim);
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
      tables_[t] = static_cast<float*>(resource.allocate(table_floats(t) * sizeof(float)));
      accumulators_[t] = static_cast<float*>(resource.allocate(rows_[t] * sizeof(float)));
    }
  } catch (...) {
    for (int t = 0; t < tables(); ++t) {
      if (tables_[t] != nullptr) resource.deallocate(tables_[t], table_floats(t) * sizeof(float));
      if (accumulators_[t] != nullptr) resource.deallocate(accumulators_[t], rows_[t] * sizeof(float));
    }
    throw;
  }
}

EmbeddingStore::~EmbeddingStore() {
  for (int t = 0; t < tables(); ++t) {
    resource_->deallocate(tables_[t], table_floats(t) * sizeof(float));
    resource_->deallocate(accumulators_[t], rows_[t] * sizeof(float));
  }
}

}  // namespace shadowsync
