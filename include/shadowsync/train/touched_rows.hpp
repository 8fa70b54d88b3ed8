// TouchedRows: one mark per embedding row of every table of the model's schema (one-hot tables
// 0..S-1 and multi-hot tables S..S+M-1, feature_schema.hpp's order), set by the Hogwild workers
// after each batch for the rows that batch updated (a one-hot example's row of each one-hot table,
// every id of every multi-hot list), and taken (read and cleared) by a background participant
// that needs only the rows changed since its last look (the inter-host sync's sparse exchange), so
// that it does not scan whole tables.
//
// Concurrency (documented race): workers mark() with std::atomic_ref<uint8_t> release stores after
// their row updates, from many threads at once and without read-modify-write (a mark is 1 however
// many workers set it); the participant take()s a mark with an acquire exchange, after which it
// sees every row update that preceded the store it took. A worker may mark a row the participant
// has just taken and read before the worker's update was visible: the row stays marked and is taken
// again at the next look, so no change is lost; a row may be listed once with a zero change (the
// participant skips it). A user of take() that must be exact at the end (the final round) can
// still compare whole tables once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/embedding_store.hpp"

namespace shadowsync {

class TouchedRows {
 public:
  // One cleared mark per row of every table of `tables`.
  explicit TouchedRows(const EmbeddingStore& tables) {
    const int count = tables.hashing().tables();
    start_.resize(static_cast<size_t>(count) + 1);
    size_t total = 0;
    for (int t = 0; t < count; ++t) {
      start_[static_cast<size_t>(t)] = total;
      total += tables.rows(t);
    }
    start_[static_cast<size_t>(count)] = total;
    marks_ = std::make_unique<uint8_t[]>(total);  // zero-filled
    total_ = total;
  }

  // After a worker's batch: marks the row of every table that each example of `batch` uses: its
  // row of each one-hot table t < S, and every id of each multi-hot list m (table S + m).
  void mark(const DataView& batch) {
    const size_t s = static_cast<size_t>(batch.sparse_width);
    for (size_t i = 0; i < batch.rows; ++i) {
      const uint32_t* rows = batch.sparse + i * s;
      for (size_t t = 0; t < s; ++t) set(start_[t] + rows[t]);
      for (int m = 0; m < batch.multi_hot; ++m) {
        const size_t start = start_[s + static_cast<size_t>(m)];
        for (uint64_t k = batch.bag_begin(i, m); k < batch.bag_end(i, m); ++k) set(start + batch.bag_ids[k]);
      }
    }
  }
  void mark(int table, uint32_t row) { set(start_[static_cast<size_t>(table)] + row); }

  // True when row `row` of `table` was marked since the last take() of it (and clears the mark).
  bool take(int table, size_t row) {
    uint8_t& m = marks_[start_[static_cast<size_t>(table)] + row];
    if (std::atomic_ref<uint8_t>(m).load(std::memory_order_relaxed) == 0) return false;
    return std::atomic_ref<uint8_t>(m).exchange(0, std::memory_order_acquire) != 0;
  }

  size_t total_rows() const { return total_; }
  int tables() const { return static_cast<int>(start_.size()) - 1; }

 private:
  void set(size_t at) { std::atomic_ref<uint8_t>(marks_[at]).store(1, std::memory_order_release); }

  std::unique_ptr<uint8_t[]> marks_;
  std::vector<size_t> start_;  // first mark of each table, then the total
  size_t total_ = 0;
};

}  // namespace shadowsync
