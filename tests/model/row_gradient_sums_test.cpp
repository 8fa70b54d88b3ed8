// RowGradientSums against a scalar reference: every distinct (table, row) once, in first-occurrence
// order, with its gradients summed in call order; repeats, mean-pooled shares, tables of every size
// (the map's growth) and the pointer kept for a row added once.
#include "model/row_gradient_sums.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <utility>
#include <vector>

namespace shadowsync {
namespace {

struct Occurrence {
  uint32_t row;
  size_t grad;      // index of its gradient in the pool
  float divisor;    // 0: add(), else add_divided()
};

// The reference: per table, distinct rows in first-occurrence order with 0 + g1 + g2 + ... (each
// g / divisor where given), in fp32, value by value.
struct Expected {
  int table;
  uint32_t row;
  std::vector<float> sum;
};

std::vector<Expected> reference(const std::vector<std::vector<Occurrence>>& tables, const std::vector<float>& pool,
                                int dim) {
  std::vector<Expected> out;
  for (size_t t = 0; t < tables.size(); ++t) {
    std::map<uint32_t, size_t> index;
    for (const Occurrence& o : tables[t]) {
      auto [it, fresh] = index.emplace(o.row, out.size());
      if (fresh) out.push_back(Expected{int(t), o.row, std::vector<float>(size_t(dim), 0.0f)});
      std::vector<float>& sum = out[it->second].sum;
      for (int k = 0; k < dim; ++k) {
        const float g = pool[o.grad * size_t(dim) + size_t(k)];
        sum[size_t(k)] += o.divisor == 0.0f ? g : g / o.divisor;
      }
    }
  }
  return out;
}

void run(RowGradientSums& sums, const std::vector<std::vector<Occurrence>>& tables, const std::vector<float>& pool,
         int dim) {
  size_t ids = 0;
  for (const auto& t : tables) ids += t.size();
  sums.begin_batch(dim, ids);
  for (size_t t = 0; t < tables.size(); ++t) {
    sums.begin_table(int(t), tables[t].size());
    for (const Occurrence& o : tables[t]) {
      const float* g = pool.data() + o.grad * size_t(dim);
      if (o.divisor == 0.0f) {
        sums.add(o.row, g);
      } else {
        sums.add_divided(o.row, g, o.divisor);
      }
    }
  }
}

void expect_equal(const RowGradientSums& sums, const std::vector<Expected>& expected, int dim) {
  ASSERT_EQ(sums.size(), expected.size());
  for (size_t u = 0; u < expected.size(); ++u) {
    EXPECT_EQ(sums.table(u), expected[u].table) << "entry " << u;
    EXPECT_EQ(sums.row(u), expected[u].row) << "entry " << u;
    for (int k = 0; k < dim; ++k) {
      // + 0 as the step's update reads it: only the sign of a zero may differ from 0 + g1 + ...
      EXPECT_EQ(sums.grad(u)[k] + 0.0f, expected[u].sum[size_t(k)] + 0.0f) << "entry " << u << " value " << k;
    }
  }
}

TEST(RowGradientSums, EachDistinctRowOnceInFirstOccurrenceOrderWithItsSumInCallOrder) {
  const int dim = 16;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Tables of 1, 5, 128 and 3000 ids over few rows (many repeats) and many rows (few).
  const std::vector<std::pair<size_t, uint32_t>> shapes = {{1, 10}, {5, 2}, {128, 40}, {3000, 1u << 30}, {128, 7}};
  std::vector<std::vector<Occurrence>> tables;
  std::vector<float> pool;
  for (const auto& [ids, rows] : shapes) {
    std::vector<Occurrence> t;
    for (size_t i = 0; i < ids; ++i) {
      t.push_back(Occurrence{uint32_t(rng() % rows), pool.size() / dim, 0.0f});
      for (int k = 0; k < dim; ++k) pool.push_back(normal(rng));
    }
    tables.push_back(std::move(t));
  }
  RowGradientSums sums;
  run(sums, tables, pool, dim);
  const std::vector<Expected> expected = reference(tables, pool, dim);
  expect_equal(sums, expected, dim);
  // The table of few rows repeats them, so sums were made; the other one has singles.
  EXPECT_LT(expected.size(), 1 + 5 + 128 + 3000 + 128);
}

TEST(RowGradientSums, ARowAddedOnceKeepsTheCallersGradientAndARepeatGetsItsOwnSum) {
  const int dim = 4;
  const std::vector<float> pool = {1, 2, 3, 4, 10, 20, 30, 40, -1, -2, -3, -4};
  RowGradientSums sums;
  sums.begin_batch(dim, 3);
  sums.begin_table(0, 3);
  sums.add(7, pool.data());
  sums.add(9, pool.data() + 4);
  sums.add(7, pool.data() + 8);
  ASSERT_EQ(sums.size(), 2u);
  EXPECT_EQ(sums.row(0), 7u);
  EXPECT_EQ(sums.row(1), 9u);
  EXPECT_EQ(sums.grad(1), pool.data() + 4);  // no copy
  EXPECT_NE(sums.grad(0), pool.data());
  for (int k = 0; k < dim; ++k) EXPECT_EQ(sums.grad(0)[k], 0.0f) << k;  // 1 + -1, ...
  EXPECT_EQ(pool[0], 1.0f);  // the caller's gradient untouched
}

TEST(RowGradientSums, MeanPooledSharesAreDividedBeforeSummingAndMixWithWholeOnes) {
  const int dim = 8;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<Occurrence>> tables(3);
  std::vector<float> pool;
  for (size_t t = 0; t < tables.size(); ++t) {
    for (size_t i = 0; i < 400; ++i) {
      const float divisor = t == 1 ? 0.0f : float(1 + rng() % 5);  // table 1 summed, the others mean-pooled
      tables[t].push_back(Occurrence{uint32_t(rng() % 50), pool.size() / dim, divisor});
      for (int k = 0; k < dim; ++k) pool.push_back(normal(rng));
    }
  }
  RowGradientSums sums;
  run(sums, tables, pool, dim);
  expect_equal(sums, reference(tables, pool, dim), dim);
}

TEST(RowGradientSums, ALaterBatchStartsAfreshAndMayBeLarger) {
  const int dim = 2;
  std::vector<float> pool;
  for (int i = 0; i < 20000; ++i) pool.push_back(float(i % 97) - 48.0f);
  RowGradientSums sums;
  for (size_t ids : {10u, 10000u, 3u}) {
    std::vector<std::vector<Occurrence>> tables(2);
    for (size_t i = 0; i < ids; ++i) {
      tables[0].push_back(Occurrence{uint32_t(i * 7919 % 1000), i % 10000, 0.0f});
      tables[1].push_back(Occurrence{uint32_t(i), i % 10000, 0.0f});
    }
    run(sums, tables, pool, dim);
    expect_equal(sums, reference(tables, pool, dim), dim);
  }
}

TEST(RowGradientSums, TheMapHasEightSlotsPerIdWhileSmallAndAlwaysMoreSlotsThanIds) {
  EXPECT_EQ(RowGradientSums::capacity_for(0), 16u);
  EXPECT_EQ(RowGradientSums::capacity_for(1), 16u);
  EXPECT_EQ(RowGradientSums::capacity_for(128), 1024u);  // a kaggle table at batch 128
  EXPECT_EQ(RowGradientSums::capacity_for(1024), 8192u);
  EXPECT_EQ(RowGradientSums::capacity_for(2048), 16384u);
  EXPECT_EQ(RowGradientSums::capacity_for(2049), 16384u);  // past the sparse range: 2 slots per id
  EXPECT_EQ(RowGradientSums::capacity_for(8192), 16384u);
  EXPECT_EQ(RowGradientSums::capacity_for(8193), 32768u);
  for (size_t ids = 0; ids < 100000; ids += 97) {
    const size_t capacity = RowGradientSums::capacity_for(ids);
    EXPECT_EQ(capacity & (capacity - 1), 0u) << ids;  // a power of two (the probe masks)
    EXPECT_GE(capacity, 2 * ids) << ids;              // at most half full: probes end
  }
}

}  // namespace
}  // namespace shadowsync
