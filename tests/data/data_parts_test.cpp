// Tests of DataParts (data_parts.hpp) and of Dataset::open_many keeping several files apart:
// rows located across parts, slices, views without copies inside a part and copies across one,
// the held-out tail over parts, and caches that stay memory-mapped (nothing joined).
#include "shadowsync/data/data_parts.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "shadowsync/data/data_stats.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/data_fingerprint.hpp"
#include "shadowsync/data/dataset.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

// A block whose row i has label i % 2, numeric[j] = 1 + i % 40 + j / 100 and sparse[t] = 26 i + t
// (values a cache accepts).
DataBlock numbered_rows(size_t rows, size_t first = 0) {
  DataBlock block(rows);
  for (size_t r = 0; r < rows; ++r) {
    const size_t i = first + r;
    block.labels()[r] = static_cast<float>(i % 2);
    for (int j = 0; j < kNumNumeric; ++j) block.numeric()[r * kNumNumeric + j] = static_cast<float>(1 + i % 40) + j / 100.0f;
    for (int t = 0; t < kNumSparse; ++t) block.sparse()[r * kNumSparse + t] = static_cast<uint32_t>(26 * i + t);
  }
  return block;
}

// Row `r` of `view` is row `i` of numbered_rows.
void expect_row(const DataView& view, size_t r, size_t i) {
  EXPECT_EQ(view.labels[r], static_cast<float>(i % 2)) << "row " << r;
  EXPECT_EQ(view.numeric[r * kNumNumeric + 12], static_cast<float>(1 + i % 40) + 12 / 100.0f) << "row " << r;
  EXPECT_EQ(view.sparse[r * kNumSparse + 25], static_cast<uint32_t>(26 * i + 25)) << "row " << r;
}

struct ThreeParts {
  DataBlock a = numbered_rows(10, 0), b = numbered_rows(3, 10), c = numbered_rows(7, 13);
  DataParts parts{std::vector<DataView>{a.view(), DataView{}, b.view(), c.view()}};
};

TEST(DataParts, CountsRowsAndDropsEmptyParts) {
  ThreeParts p;
  EXPECT_EQ(p.parts.rows(), 20u);
  ASSERT_EQ(p.parts.parts().size(), 3u);
  EXPECT_EQ(p.parts.parts()[1].labels, p.b.labels());
  const DataParts one(p.a.view());
  EXPECT_EQ(one.rows(), 10u);
  EXPECT_EQ(DataParts().rows(), 0u);
  EXPECT_TRUE(DataParts().parts().empty());
}

TEST(DataParts, ViewsInsideOnePartPointIntoIt) {
  ThreeParts p;
  DataBlock scratch;
  const std::optional<DataView> inside = p.parts.contiguous(10, 13);  // exactly part b
  ASSERT_TRUE(inside.has_value());
  EXPECT_EQ(inside->labels, p.b.labels());
  EXPECT_EQ(inside->rows, 3u);
  const DataView tail = p.parts.rows(15, 20, scratch);
  EXPECT_EQ(tail.labels, p.c.labels() + 2);
  EXPECT_EQ(tail.numeric, p.c.numeric() + 2 * kNumNumeric);
  EXPECT_EQ(tail.sparse, p.c.sparse() + 2 * kNumSparse);
  EXPECT_EQ(scratch.rows(), 0u);  // nothing copied
  EXPECT_EQ(p.parts.contiguous(4, 4)->rows, 0u);
}

TEST(DataParts, RowsAcrossPartsAreCopiedInOrder) {
  ThreeParts p;
  DataBlock scratch;
  EXPECT_FALSE(p.parts.contiguous(8, 15).has_value());
  const DataView crossing = p.parts.rows(8, 15, scratch);  // 2 of a, all of b, 2 of c
  ASSERT_EQ(crossing.rows, 7u);
  EXPECT_EQ(crossing.labels, scratch.labels());
  for (size_t r = 0; r < 7; ++r) expect_row(crossing, r, 8 + r);
  // The scratch block is reused for a smaller crossing batch.
  const float* memory = scratch.labels();
  const DataView again = p.parts.rows(9, 11, scratch);
  EXPECT_EQ(again.labels, memory);
  for (size_t r = 0; r < 2; ++r) expect_row(again, r, 9 + r);
  const DataBlock all = p.parts.copy(0, 20);
  for (size_t r = 0; r < 20; ++r) expect_row(all.view(), r, r);
}

TEST(DataParts, SlicesCutTheirEndParts) {
  ThreeParts p;
  const DataParts s = p.parts.slice(5, 16);
  EXPECT_EQ(s.rows(), 11u);
  ASSERT_EQ(s.parts().size(), 3u);
  EXPECT_EQ(s.parts()[0].rows, 5u);
  EXPECT_EQ(s.parts()[0].labels, p.a.labels() + 5);
  EXPECT_EQ(s.parts()[2].rows, 3u);
  DataBlock scratch;
  const DataView v = s.rows(0, 11, scratch);
  for (size_t r = 0; r < 11; ++r) expect_row(v, r, 5 + r);
  EXPECT_EQ(p.parts.slice(10, 13).parts().size(), 1u);
  EXPECT_EQ(p.parts.slice(7, 7).rows(), 0u);
}

TEST(DataParts, EvalTailInTheLastPartIsNotCopiedAndOneAcrossPartsIs) {
  ThreeParts p;
  DataBlock copy;
  auto [train, eval] = split_eval_tail(p.parts, 0.25, copy);  // 5 rows: inside c
  EXPECT_EQ(train.rows(), 15u);
  EXPECT_EQ(eval.rows, 5u);
  EXPECT_EQ(eval.labels, p.c.labels() + 2);
  EXPECT_EQ(copy.rows(), 0u);
  std::tie(train, eval) = split_eval_tail(p.parts, 0.5, copy);  // 10 rows: 3 of b and all of c
  EXPECT_EQ(train.rows(), 10u);
  EXPECT_EQ(eval.labels, copy.labels());
  for (size_t r = 0; r < 10; ++r) expect_row(eval, r, 10 + r);
  // The same rounding and refusals as the one-view split.
  EXPECT_EQ(split_eval_tail(p.parts, 0.001, copy).second.rows, split_eval_tail(p.a.view(), 0.001).second.rows);
  EXPECT_THROW(split_eval_tail(p.parts, 1.0, copy), Error);
  EXPECT_THROW(split_eval_tail(DataParts(numbered_rows(1).view()), 0.5, copy), Error);
}

// Statistics over parts equal those of the concatenation (every count, share and maximum); an
// out-of-range value is reported at its row in the sequence.
TEST(DataParts, StatisticsOverPartsEqualThoseOfTheirConcatenation) {
  ThreeParts p;
  p.b.sparse()[1 * kNumSparse + 4] = 0;  // a missing value in the middle part
  const HashingConfig hashing = HashingConfig::uniform(1 << 12);
  const std::array<uint64_t, kNumNumeric> missing{3};
  const DataBlock all = p.parts.copy(0, 20);
  const data::DataStats over_parts = data::compute_stats(p.parts, hashing, missing);
  const data::DataStats joined = data::compute_stats(all.view(), hashing, missing);
  EXPECT_EQ(over_parts.rows, 20u);
  EXPECT_EQ(over_parts.positive_rate, joined.positive_rate);
  EXPECT_EQ(over_parts.positive_rate, 0.5);
  for (int j = 0; j < kNumNumeric; ++j) {
    EXPECT_DOUBLE_EQ(over_parts.numeric[j].mean, joined.numeric[j].mean);
    EXPECT_EQ(over_parts.numeric[j].max, joined.numeric[j].max);
    EXPECT_EQ(over_parts.numeric[j].missing_share, joined.numeric[j].missing_share);
  }
  for (int t = 0; t < kNumSparse; ++t) {
    EXPECT_EQ(over_parts.sparse[t].distinct_rows, joined.sparse[t].distinct_rows) << t;
    EXPECT_EQ(over_parts.sparse[t].missing_share, joined.sparse[t].missing_share) << t;
  }
  EXPECT_EQ(over_parts.sparse[4].distinct_rows, 19u);  // 20 rows, one missing (26 i + t distinct)
  EXPECT_EQ(over_parts.sparse[4].missing_share, 1.0 / 20);
  p.c.sparse()[2 * kNumSparse + 7] = 1 << 12;  // row 15 of the sequence
  try {
    data::compute_stats(p.parts, hashing, missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 15: C8 value 4096 is out of range"), std::string::npos) << e.what();
  }
}

// Caches given together stay memory-mapped side by side, each its own part; view() of several is
// refused with a message saying what to use.
TEST(Dataset, SeveralCachesAreKeptApartNotJoined) {
  test::TempDir dir;
  ParseOptions options;
  options.hashing = HashingConfig::uniform(1 << 20);
  const DataBlock a = numbered_rows(1500, 0), b = numbered_rows(700, 1500);
  write_cache(dir.file("a.bin"), a.view(), options.hashing);
  write_cache(dir.file("b.bin"), b.view(), options.hashing);
  std::vector<ParseReport> reports;
  ParseReport total;
  Dataset d = Dataset::open_many({dir.file("a.bin"), dir.file("b.bin")}, options, &total, &reports);
  EXPECT_TRUE(d.is_cache());
  EXPECT_EQ(d.files(), 2u);
  EXPECT_EQ(d.rows(), 2200u);
  EXPECT_EQ(total.rows, 2200u);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].rows, 700u);
  const DataParts parts = d.parts();
  ASSERT_EQ(parts.parts().size(), 2u);
  DataBlock scratch;
  const DataView across = parts.rows(1490, 1510, scratch);
  for (size_t r = 0; r < 20; ++r) expect_row(across, r, 1490 + r);
  try {
    d.view();
    ADD_FAILURE() << "view() of two files";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has 2 files: read it through parts()"), std::string::npos) << e.what();
  }
  const DataBlock joined = parts.copy(0, parts.rows());
  for (size_t r : {0, 1499, 1500, 2199}) expect_row(joined.view(), r, r);
}

// Rows of a schema with multi-hot lists: rows() across parts and the fingerprint of the parts
// give what the concatenation gives; another list id gives another fingerprint.
TEST(DataParts, MultiHotRowsAcrossPartsAndTheirFingerprint) {
  ParseOptions o;
  o.schema = test::mixed_schema();
  o.hashing = HashingConfig::uniform(1000, 7, 3);
  std::string a, b;
  for (uint64_t i = 0; i < 10; ++i) a += test::mixed_line(i) + "\n";
  for (uint64_t i = 10; i < 25; ++i) b += test::mixed_line(i) + "\n";
  const DataBlock pa = parse_criteo_text(a, "a", o), pb = parse_criteo_text(b, "b", o);
  const DataBlock whole = concatenate({pa.view(), pb.view()});
  const DataParts parts(std::vector<DataView>{pa.view(), pb.view()});
  DataBlock scratch;
  const DataView crossing = parts.rows(7, 19, scratch);
  const DataView expected = whole.view().slice(7, 19);
  ASSERT_EQ(crossing.rows, 12u);
  EXPECT_EQ(crossing.widths(), expected.widths());
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(crossing.numeric[i * 2 + 1], expected.numeric[i * 2 + 1]) << i;
    EXPECT_EQ(crossing.sparse[i * 2], expected.sparse[i * 2]) << i;
    const std::vector<uint32_t> got(crossing.bag_ids + crossing.bag_begin(i, 0), crossing.bag_ids + crossing.bag_end(i, 0));
    const std::vector<uint32_t> want(expected.bag_ids + expected.bag_begin(i, 0), expected.bag_ids + expected.bag_end(i, 0));
    EXPECT_EQ(got, want) << i;
  }
  EXPECT_NO_THROW(validate_view(crossing, o.schema, o.hashing, "crossing"));
  EXPECT_EQ(data_fingerprint(parts), data_fingerprint(DataParts(whole.view())));
  DataBlock other = concatenate({pa.view(), pb.view()});
  ASSERT_FALSE(other.bag_ids().empty());
  other.bag_ids().back() = other.bag_ids().back() == 1 ? 2 : 1;
  EXPECT_NE(data_fingerprint(DataParts(other.view())), data_fingerprint(DataParts(whole.view())));
}

}  // namespace
}  // namespace shadowsync
