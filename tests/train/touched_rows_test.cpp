// TouchedRows (include/shadowsync/train/touched_rows.hpp): a batch marks the row of each one-hot
// table and every id of every multi-hot list (tables S..S+M-1), nothing else; take() clears.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/train/touched_rows.hpp"

namespace shadowsync {
namespace {

// Every (table, row) still marked, taking them.
std::set<std::pair<int, size_t>> take_all(TouchedRows& touched, const EmbeddingStore& tables) {
  std::set<std::pair<int, size_t>> out;
  for (int t = 0; t < tables.hashing().tables(); ++t) {
    for (size_t r = 0; r < tables.rows(t); ++r) {
      if (touched.take(t, r)) out.insert({t, r});
    }
  }
  return out;
}

TEST(TouchedRows, OneHotRowsAndEveryIdOfEveryList) {
  // 24 one-hot tables and 2 multi-hot ones (tables 24 and 25), of 50 rows each.
  HashingConfig hashing = HashingConfig::uniform(50, 0, 26);
  hashing.rows[25] = 60;
  const EmbeddingStore tables(hashing, 4);
  TouchedRows touched(tables);
  EXPECT_EQ(touched.tables(), 26);
  EXPECT_EQ(touched.total_rows(), 25u * 50u + 60u);

  const int s = 24, m = 2;
  const size_t rows = 2;
  std::vector<float> labels(rows), numeric(rows * 13);
  std::vector<uint32_t> sparse(rows * s);
  for (size_t i = 0; i < rows; ++i) {
    for (int t = 0; t < s; ++t) sparse[i * s + size_t(t)] = static_cast<uint32_t>(1 + t + 10 * i);
  }
  // Row 0: list [3, 7, 3] of table 24, an empty list of table 25. Row 1: [9] and [59, 1].
  const std::vector<uint32_t> bag_ids = {3, 7, 3, 9, 59, 1};
  const std::vector<uint64_t> bag_offsets = {0, 3, 3, 4, 6};
  DataView batch;
  batch.rows = rows;
  batch.labels = labels.data();
  batch.numeric = numeric.data();
  batch.sparse = sparse.data();
  batch.sparse_width = s;
  batch.multi_hot = m;
  batch.bag_offsets = bag_offsets.data();
  batch.bag_ids = bag_ids.data();
  touched.mark(batch);

  std::set<std::pair<int, size_t>> expected;
  for (size_t i = 0; i < rows; ++i) {
    for (int t = 0; t < s; ++t) expected.insert({t, 1 + size_t(t) + 10 * i});
  }
  expected.insert({24, 3});
  expected.insert({24, 7});
  expected.insert({24, 9});
  expected.insert({25, 59});
  expected.insert({25, 1});
  EXPECT_EQ(take_all(touched, tables), expected);
  EXPECT_TRUE(take_all(touched, tables).empty());  // taken: cleared

  // The second row alone (a slice moves the offsets only).
  touched.mark(batch.slice(1, 2));
  const std::set<std::pair<int, size_t>> second = take_all(touched, tables);
  EXPECT_EQ(second.size(), 24u + 3u);
  EXPECT_TRUE(second.count({24, 9}) && second.count({25, 59}) && second.count({25, 1}));
  EXPECT_FALSE(second.count({24, 3}));
}

TEST(TouchedRows, CriteoBatchMarksOneRowPerTable) {
  const EmbeddingStore tables(HashingConfig::uniform(8), 4);
  TouchedRows touched(tables);
  std::vector<float> labels(1), numeric(13);
  std::vector<uint32_t> sparse(26);
  for (int t = 0; t < 26; ++t) sparse[size_t(t)] = static_cast<uint32_t>(t % 8);
  DataView batch;
  batch.rows = 1;
  batch.labels = labels.data();
  batch.numeric = numeric.data();
  batch.sparse = sparse.data();
  touched.mark(batch);
  const std::set<std::pair<int, size_t>> marked = take_all(touched, tables);
  EXPECT_EQ(marked.size(), 26u);
  for (int t = 0; t < 26; ++t) EXPECT_TRUE(marked.count({t, size_t(t % 8)})) << t;
}

}  // namespace
}  // namespace shadowsync
