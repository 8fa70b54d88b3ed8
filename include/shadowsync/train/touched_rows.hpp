// TouchedRows: one mark per embedding row of every table, set by the Hogwild workers after each
// batch for the rows that batch updated, and taken (read and cleared) by a background participant
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
    size_t total = 0;
    for (int t = 0; t < kNumSparse; ++t) {
      start_[static_cast<size_t>(t)] = total;
      total += tables.rows(t);
    }
    marks_ = std::make_unique<uint8_t[]>(total);  // zero-filled
    total_ = total;
  }

  // After a worker's batch: marks the row of every table that each example of `batch` uses.
  void mark(const DataView& batch) {
    for (size_t i = 0; i < batch.rows; ++i) {
      const uint32_t* rows = batch.sparse + i * kNumSparse;
      for (int t = 0; t < kNumSparse; ++t) {
        std::atomic_ref<uint8_t>(marks_[start_[static_cast<size_t>(t)] + rows[t]]).store(1, std::memory_order_release);
      }
    }
  }
  void mark(int table, uint32_t row) {
    std::atomic_ref<uint8_t>(marks_[start_[static_cast<size_t>(table)] + row]).store(1, std::memory_order_release);
  }

  // True when row `row` of `table` was marked since the last take() of it (and clears the mark).
  bool take(int table, size_t row) {
    uint8_t& m = marks_[start_[static_cast<size_t>(table)] + row];
    if (std::atomic_ref<uint8_t>(m).load(std::memory_order_relaxed) == 0) return false;
    return std::atomic_ref<uint8_t>(m).exchange(0, std::memory_order_acquire) != 0;
  }

  size_t total_rows() const { return total_; }

 private:
  std::unique_ptr<uint8_t[]> marks_;
  size_t start_[kNumSparse] = {};
  size_t total_ = 0;
};

}  // namespace shadowsync
