// The embedding limit probe's kernels (benchmarks/model/row_probe.hpp): BF16 rounding, the gather,
// and each update pattern against a scalar row-wise Adagrad written out here, on small tables.
#include "row_probe.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace shadowsync::row_probe {
namespace {

constexpr int kT = 3;          // tables
constexpr uint32_t kRows = 8;  // rows per table

// Small tables of Row (row r of table t starts as 0.1 * t + 0.01 * r + 0.001 * k), accumulators
// 0.5 * t.
template <typename Row>
struct Small {
  std::vector<std::vector<Row>> rows;
  std::vector<std::vector<float>> acc;
  std::vector<TableRef<Row>> refs;
  Small() : rows(kT), acc(kT) {
    for (int t = 0; t < kT; ++t) {
      rows[t].resize(kRows * kDim);
      for (uint32_t r = 0; r < kRows; ++r) {
        for (int k = 0; k < kDim; ++k) store(rows[t][r * kDim + k], 0.1f * float(t) + 0.01f * float(r) + 0.001f * float(k));
      }
      acc[t].assign(kRows, 0.5f * float(t));
    }
    for (int t = 0; t < kT; ++t) refs.push_back(TableRef<Row>{rows[t].data(), acc[t].data(), kDim});
  }
  float value(int t, uint32_t r, int k) const { return load(rows[t][r * kDim + k]); }
};

// The scalar reference: acc += sum(g^2) / 16; row -= lr / (sqrt(acc) + eps) * g, each element
// rounded to the row's type after the update.
template <typename Row>
void reference_update(Small<Row>& s, int t, uint32_t r, const float* g, float lr = 0.01f, float eps = 1e-8f) {
  double sumsq = 0;
  for (int k = 0; k < kDim; ++k) sumsq += double(g[k]) * double(g[k]);
  const float a = s.acc[t][r] + float(sumsq / 16.0);
  s.acc[t][r] = a;
  const float step = lr / (std::sqrt(a) + eps);
  for (int k = 0; k < kDim; ++k) store(s.rows[t][r * kDim + k], load(s.rows[t][r * kDim + k]) - step * g[k]);
}

// 4 examples x 3 tables; example 2 repeats example 0's row of table 1 (a duplicate).
const std::vector<uint32_t> kIds = {3, 5, 7, 0, 1, 2, 6, 5, 4, 3, 3, 3};

std::vector<float> gradients(size_t n) {
  std::vector<float> g(n * kDim);
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.05f * float(int(i % 7) - 3) + 0.01f * float(i % 3);
  return g;
}

template <typename Row>
void expect_same(const Small<Row>& got, const Small<Row>& want, float tol) {
  for (int t = 0; t < kT; ++t) {
    for (uint32_t r = 0; r < kRows; ++r) {
      EXPECT_NEAR(got.acc[t][r], want.acc[t][r], 1e-6f * std::fabs(want.acc[t][r]) + 1e-9f) << "table " << t << " row " << r;
      for (int k = 0; k < kDim; ++k) {
        EXPECT_NEAR(got.value(t, r, k), want.value(t, r, k), tol * std::fabs(want.value(t, r, k)) + 1e-9f)
            << "table " << t << " row " << r << " k " << k;
      }
    }
  }
}

TEST(RowProbe, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bf16(1.0f + 1.0f / 256), 0x3F80);      // halfway, even stays
  EXPECT_EQ(float_to_bf16(1.0f + 3.0f / 256), 0x3F82);      // halfway, odd goes up
  EXPECT_EQ(float_to_bf16(1.0f + 1.5f / 256), 0x3F81);      // above halfway
  EXPECT_EQ(bf16_to_float(0xC040), -3.0f);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::nanf("")))));
}

TEST(RowProbe, RowConversionsMatchTheScalarOnes) {
  const float values[kDim] = {1.0f, 1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -1.0f - 1.5f / 256, 0.01f, -0.0f, 3.0e38f,
                              std::numeric_limits<float>::infinity(), std::nanf(""), 1e-40f, -2.5f, 65504.0f,
                              0.1f, 0.2f, 0.3f, 1.0f - 1.0f / 512};
  uint16_t row[kDim];
  store_row(row, values);
  for (int k = 0; k < kDim; ++k) EXPECT_EQ(row[k], float_to_bf16(values[k])) << k;
  EXPECT_EQ(row[2], 0x3F82);
  float back[kDim];
  load_row(row, back);
  for (int k = 0; k < kDim; ++k) {
    if (k == 8) {
      EXPECT_TRUE(std::isnan(back[k]));
    } else {
      EXPECT_EQ(back[k], bf16_to_float(row[k])) << k;
    }
  }
  EXPECT_EQ(back[10], -2.5f);
}

TEST(RowProbe, OneUpdateHasTheRowwiseAdagradValues) {
  Small<float> s;
  std::vector<float> g(kDim, 1.0f);  // |g|^2 / 16 = 1
  update_row(s.rows[1].data() + 2 * kDim, &s.acc[1][2], g.data(), Adagrad{});
  EXPECT_FLOAT_EQ(s.acc[1][2], 1.5f);  // 0.5 + 1
  const float step = 0.01f / (std::sqrt(1.5f) + 1e-8f);
  EXPECT_FLOAT_EQ(s.value(1, 2, 0), 0.12f - step);
  EXPECT_FLOAT_EQ(s.value(1, 2, 15), 0.12f + 0.015f - step);
  EXPECT_FLOAT_EQ(s.value(1, 3, 0), 0.13f);  // the next row is untouched
  EXPECT_FLOAT_EQ(s.acc[1][3], 0.5f);
}

TEST(RowProbe, GatherCopiesEachExamplesRows) {
  Small<uint16_t> s;
  std::vector<float> out(kIds.size() * kDim);
  gather(s.refs.data(), kT, kIds.data(), 4, out.data(), 2);
  for (size_t i = 0; i < kIds.size(); ++i) {
    for (int k = 0; k < kDim; ++k) EXPECT_EQ(out[i * kDim + k], s.value(int(i % kT), kIds[i], k)) << i;
  }
  EXPECT_EQ(out[(1 * kT + 2) * kDim + 4], bf16_to_float(float_to_bf16(0.2f + 0.02f + 0.004f)));
}

template <typename Row>
void check_batch_order(size_t ahead, float tol) {
  Small<Row> got, want;
  const std::vector<float> g = gradients(kIds.size());
  update_batch(got.refs.data(), kT, kIds.data(), 4, g.data(), ahead, Adagrad{});
  for (size_t i = 0; i < kIds.size(); ++i) reference_update(want, int(i % kT), kIds[i], g.data() + i * kDim);
  expect_same(got, want, tol);
  // The duplicate (table 1, row 5) was updated twice: its accumulator grew by both gradients.
  double twice = 0;
  for (size_t i : {size_t(1), size_t(7)}) {
    for (int k = 0; k < kDim; ++k) twice += double(g[i * kDim + k]) * g[i * kDim + k];
  }
  EXPECT_NEAR(got.acc[1][5], 0.5 + twice / 16, 1e-6);
}

TEST(RowProbe, BatchOrderUpdateMatchesReferenceFp32) {
  check_batch_order<float>(0, 1e-6f);
  check_batch_order<float>(5, 1e-6f);
}
TEST(RowProbe, BatchOrderUpdateMatchesReferenceBf16) {
  check_batch_order<uint16_t>(0, 1.0f / 128);  // at most one BF16 step apart
  check_batch_order<uint16_t>(5, 1.0f / 128);
}

TEST(RowProbe, SortedUniqueListsEachTablesDistinctRows) {
  const SortedRows s = sorted_unique(kIds.data(), 4, kT);
  EXPECT_EQ(s.begin, (std::vector<size_t>{0, 3, 6, 10}));
  EXPECT_EQ(s.rows, (std::vector<uint32_t>{0, 3, 6, 1, 3, 5, 2, 3, 4, 7}));
  EXPECT_EQ(s.example, (std::vector<uint32_t>{1, 0, 2, 1, 3, 0, 1, 3, 2, 0}));  // first to draw it
}

template <typename Row>
void check_sorted(size_t ahead, float tol, bool next_table = true) {
  Small<Row> got, want;
  const SortedRows s = sorted_unique(kIds.data(), 4, kT);
  const std::vector<float> g = gradients(kIds.size());  // examples x tables
  update_sorted(got.refs.data(), kT, s, g.data(), ahead, Adagrad{}, next_table);
  for (int t = 0; t < kT; ++t) {
    for (size_t i = s.begin[size_t(t)]; i < s.begin[size_t(t) + 1]; ++i) {
      reference_update(want, t, s.rows[i], g.data() + (s.example[i] * kT + size_t(t)) * kDim);
    }
  }
  expect_same(got, want, tol);
  EXPECT_EQ(got.acc[1][5] > 0.5f, true);  // touched once
  EXPECT_FLOAT_EQ(got.acc[1][6], 0.5f);   // never drawn
}

TEST(RowProbe, SortedUpdateMatchesReferenceFp32) {
  check_sorted<float>(0, 1e-6f);
  check_sorted<float>(8, 1e-6f);
  check_sorted<float>(4, 1e-6f, false);  // prefetch across tables
}
TEST(RowProbe, SortedUpdateMatchesReferenceBf16) {
  check_sorted<uint16_t>(0, 1.0f / 128);
  check_sorted<uint16_t>(8, 1.0f / 128);
  check_sorted<uint16_t>(4, 1.0f / 128, false);
}

}  // namespace
}  // namespace shadowsync::row_probe
