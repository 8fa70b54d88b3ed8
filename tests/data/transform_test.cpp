// Tests of feature_transform.hpp: the numeric transform against log(1 + x), the mixer against the
// published splitmix64 output, pinned hash values and rows, per-table separation, salt, range
// and spread of the rows, and the validation of hashing configs.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/feature_transform.hpp"
#include "shadowsync/data/hashing.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

using test::ref_row;

TEST(NumericTransform, MatchesLogOnePlusClampedValue) {
  EXPECT_EQ(transform_numeric(0), 0.0f);
  EXPECT_EQ(transform_numeric(-1), 0.0f);
  EXPECT_EQ(transform_numeric(-9223372036854775807LL - 1), 0.0f);
  EXPECT_EQ(transform_numeric(1), static_cast<float>(0.6931471805599453));
  EXPECT_EQ(transform_numeric(10), static_cast<float>(2.3978952727983707));
  EXPECT_EQ(transform_numeric(123456789), static_cast<float>(18.631401774268017));
  EXPECT_EQ(transform_numeric(9223372036854775807LL), static_cast<float>(43.66827237527655));
}

TEST(NumericTransform, TableEqualsDirectComputationAroundItsEdge) {
  const NumericTransform table;
  for (int64_t x = -5; x < NumericTransform::kTableSize + 100; ++x) {
    ASSERT_EQ(table(x), transform_numeric(x)) << x;
  }
  EXPECT_EQ(table(4095), static_cast<float>(8.317766166719343));
  EXPECT_EQ(table(4096), static_cast<float>(8.318010277546872));
}

TEST(Hashing, Splitmix64FinalizerAndStep) {
  // splitmix64 seeded with 0 returns F(0x9E3779B97F4A7C15) first: 0xE220A8397B1DCDAF.
  EXPECT_EQ(splitmix64_finalize(0x9E3779B97F4A7C15ull), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitmix64_next(0), 0xE220A8397B1DCDAFull);
  EXPECT_EQ(splitmix64_finalize(1), 0x5692161D100B05E5ull);
}

TEST(Hashing, PinnedValues) {
  // Computed independently (Python big integers) from the formulas in feature_transform.hpp.
  EXPECT_EQ(category_hash(0x68fd1e64u, 0, 0), 0x64C0D22A37EFA532ull);
  EXPECT_EQ(category_hash(0x68fd1e64u, 1, 0), 0x557607F804C5D0C9ull);
  EXPECT_EQ(category_hash(0x68fd1e64u, 0, 7), 0xE7497FB81BD1A72Aull);
  EXPECT_EQ(category_hash(0u, 25, 0), 0xFB2B607E3E89DC1Full);
  const CategoryHasher uniform(HashingConfig::uniform());
  EXPECT_EQ(uniform.row(0, 0x68fd1e64u), 51586u);
  EXPECT_EQ(uniform.row(1, 0x68fd1e64u), 43756u);
  EXPECT_EQ(uniform.row(25, 0u), 128598u);
  EXPECT_EQ(CategoryHasher(HashingConfig::uniform(1u << 17, 7)).row(0, 0x68fd1e64u), 118419u);
  EXPECT_EQ(CategoryHasher(HashingConfig::uniform(1000)).row(3, 0xFFFFFFFFu), 916u);
  EXPECT_EQ(CategoryHasher(HashingConfig::uniform(10, 42)).row(12, 0x12345678u), 3u);
}

TEST(Hashing, ReduceRangeEqualsWideMultiply) {
  __extension__ using U128 = unsigned __int128;
  uint64_t h = 12345;
  for (int k = 0; k < 10000; ++k) {
    h = test::ref_mix64(h + 1);
    for (uint32_t n : {1u, 2u, 3u, 1000u, 131071u, 0xFFFFFFFFu}) {
      ASSERT_EQ(reduce_range(h, n), static_cast<uint32_t>((static_cast<U128>(h) * n) >> 64));
    }
  }
  EXPECT_EQ(reduce_range(~0ull, 0xFFFFFFFFu), 0xFFFFFFFEu);
  EXPECT_EQ(reduce_range(0, 0xFFFFFFFFu), 0u);
}

TEST(Hashing, RowsMatchReferenceForMixedTableSizes) {
  HashingConfig config = HashingConfig::uniform(2, 99);
  for (int t = 0; t < kNumSparse; ++t) config.rows[t] = 2 + static_cast<uint32_t>(t) * 977;
  const CategoryHasher hasher(config);
  for (uint32_t v = 0; v < 2000; ++v) {
    const uint32_t value = v * 2654435761u;
    for (int t = 0; t < kNumSparse; ++t) {
      const uint32_t row = hasher.row(t, value);
      ASSERT_EQ(row, ref_row(value, t, config));
      ASSERT_GE(row, 1u);
      ASSERT_LT(row, config.rows[t]);
    }
  }
}

TEST(Hashing, TwoRowTablesPutEveryValueInRowOne) {
  const CategoryHasher hasher(HashingConfig::uniform(2));
  for (uint32_t v = 0; v < 1000; ++v) ASSERT_EQ(hasher.row(v % kNumSparse, v * 7919u), 1u);
}

TEST(Hashing, EqualValuesInDifferentTablesLandOnDifferentRows) {
  const CategoryHasher hasher(HashingConfig::uniform());
  int same = 0;
  const int kValues = 4000;
  for (int v = 0; v < kValues; ++v) {
    for (int t = 1; t < kNumSparse; ++t) same += hasher.row(0, v) == hasher.row(t, v);
  }
  // Independent rows agree with probability 1 / 131071: about 0.8 of 100000 pairs.
  EXPECT_LE(same, 10);
}

TEST(Hashing, SaltGivesIndependentRows) {
  const CategoryHasher a(HashingConfig::uniform(1u << 17, 1));
  const CategoryHasher b(HashingConfig::uniform(1u << 17, 2));
  int same = 0;
  for (uint32_t v = 0; v < 10000; ++v) same += a.row(5, v) == b.row(5, v);
  EXPECT_LE(same, 5);
}

TEST(Hashing, SequentialValuesSpreadEvenlyOverRows) {
  // 100 rows (99 usable), 99000 consecutive values: each row expects 1000 (sd ~31.5).
  const CategoryHasher hasher(HashingConfig::uniform(100));
  std::vector<int> counts(100, 0);
  for (uint32_t v = 0; v < 99000; ++v) ++counts[hasher.row(7, v)];
  EXPECT_EQ(counts[0], 0);
  double chi2 = 0;
  for (int r = 1; r < 100; ++r) {
    EXPECT_GT(counts[r], 820) << r;
    EXPECT_LT(counts[r], 1180) << r;
    chi2 += (counts[r] - 1000.0) * (counts[r] - 1000.0) / 1000.0;
  }
  EXPECT_LT(chi2, 160.0);  // 98 degrees of freedom: p(chi2 > 160) < 1e-4
}

TEST(Hashing, ValidationRejectsTablesWithFewerThanTwoRows) {
  HashingConfig config = HashingConfig::uniform();
  EXPECT_NO_THROW(validate_hashing(config, "x"));
  config.rows[4] = 1;
  try {
    validate_hashing(config, "where");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("where: table C5 has 1 rows"), std::string::npos)
        << e.what();
  }
  config.rows[4] = 0;
  EXPECT_THROW(CategoryHasher{config}, Error);
}

}  // namespace
}  // namespace shadowsync

namespace shadowsync {
namespace {

// Table sizes from counted rows: the smallest power of two >= 2 x used + 1, clamped to
// [kMinRowsPerTable, measured size]; a table that used half its rows or more keeps its size.
TEST(TablesSizedFor, PowerOfTwoAboveTwiceTheUsedRowsWithinTheMeasuredSize) {
  HashingConfig measured = HashingConfig::uniform(1024, 7);
  measured.rows[5] = 100;  // not a power of two
  std::array<uint64_t, kNumSparse> used{};
  used[0] = 0;     // only missing values: the smallest table
  used[1] = 1;     // 2 x 1 + 1 = 3 -> 4
  used[2] = 100;   // 201 -> 256
  used[3] = 256;   // 513 -> 1024 (the measured size)
  used[4] = 511;   // 1023 -> 1024
  used[5] = 49;    // 99 -> 128, clamped to the measured 100
  used[6] = 512;   // half the table: kept
  used[7] = 1023;  // full: kept
  const HashingConfig sized = tables_sized_for(used, measured);
  EXPECT_EQ(sized.salt, 7u);
  EXPECT_EQ(sized.rows[0], HashingConfig::kMinRowsPerTable);
  EXPECT_EQ(sized.rows[1], 4u);
  EXPECT_EQ(sized.rows[2], 256u);
  EXPECT_EQ(sized.rows[3], 1024u);
  EXPECT_EQ(sized.rows[4], 1024u);
  EXPECT_EQ(sized.rows[5], 100u);
  EXPECT_EQ(sized.rows[6], 1024u);
  EXPECT_EQ(sized.rows[7], 1024u);
  EXPECT_EQ(sized.rows[8], HashingConfig::kMinRowsPerTable);  // the rest used none
}

}  // namespace
}  // namespace shadowsync
