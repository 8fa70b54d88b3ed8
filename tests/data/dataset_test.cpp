// Tests of Dataset (dataset.hpp): opening a TSV and its cache gives the same rows, the cache's
// hashing must match, file errors name the file, from_block, split_eval_tail, and the data
// statistics (include/shadowsync/data/data_stats.hpp) against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include <unistd.h>

#include <vector>

#include "shadowsync/data/data_stats.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/schema_request.hpp"
#include "shadowsync/core/error.hpp"
#include "test_util.hpp"

namespace shadowsync {
namespace {

ParseOptions options(uint32_t rows = 1000, uint64_t salt = 3) {
  ParseOptions o;
  o.hashing = HashingConfig::uniform(rows, salt);
  return o;
}

std::string open_error(const std::string& path, const ParseOptions& o) {
  try {
    Dataset::open(path, o);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Dataset, TsvAndItsCacheGiveTheSameRows) {
  test::TempDir dir;
  std::string text;
  for (uint64_t i = 0; i < 200; ++i) text += test::format_line(test::pattern_line(i)) + "\n";
  text += "bad line\n";
  const std::string tsv = dir.write("in.tsv", text);
  ParseReport report;
  const Dataset parsed = Dataset::open(tsv, options(), &report);
  EXPECT_FALSE(parsed.is_cache());
  EXPECT_EQ(parsed.path(), tsv);
  EXPECT_EQ(parsed.rows(), 200u);
  EXPECT_EQ(report.rows, 200u);
  EXPECT_EQ(report.bad_lines, 1u);
  EXPECT_EQ(report.first_errors.at(0), tsv + ":201: label 'bad line' is not 0 or 1");
  ASSERT_TRUE(parsed.numeric_missing().has_value());
  EXPECT_EQ(*parsed.numeric_missing(), report.numeric_missing);

  const std::string cache_path = dir.file("in.cache");
  write_cache(cache_path, parsed.view(), options().hashing, report.numeric_missing);
  ParseReport cache_report;
  Dataset cached = Dataset::open(cache_path, options(), &cache_report);
  EXPECT_TRUE(cached.is_cache());
  EXPECT_EQ(cached.path(), cache_path);
  ASSERT_EQ(cached.rows(), 200u);
  EXPECT_EQ(cache_report.rows, 200u);
  EXPECT_EQ(cache_report.bad_lines, 0u);
  EXPECT_EQ(cache_report.numeric_missing, report.numeric_missing);
  EXPECT_EQ(*cached.numeric_missing(), report.numeric_missing);
  const DataView a = parsed.view(), b = cached.view();
  EXPECT_EQ(std::memcmp(a.labels, b.labels, 200 * 4), 0);
  EXPECT_EQ(std::memcmp(a.numeric, b.numeric, 200 * kNumNumeric * 4), 0);
  EXPECT_EQ(std::memcmp(a.sparse, b.sparse, 200 * kNumSparse * 4), 0);

  // Moving keeps the views valid.
  Dataset moved = std::move(cached);
  EXPECT_EQ(moved.view().sparse, b.sparse);

  // Other hashing parameters: never silently reused.
  EXPECT_NE(open_error(cache_path, options(1000, 4)).find(cache_path + ": cache was hashed with"),
            std::string::npos);
  EXPECT_NE(open_error(cache_path, options(999, 3)).find("rows per table 999"), std::string::npos);
}

TEST(Dataset, FileErrorsNameTheFile) {
  test::TempDir dir;
  const std::string missing = dir.file("missing.tsv");
  EXPECT_EQ(open_error(missing, options()).rfind(missing + ": cannot open", 0), 0u);
  EXPECT_EQ(open_error(dir.path().string(), options()),
            dir.path().string() + ": is a directory, expected a file");
  const std::string empty = dir.write("empty.tsv", "");
  EXPECT_EQ(open_error(empty, options()), empty + ": empty file (no lines)");
  const std::string all_bad = dir.write("bad.tsv", "x\ny\n");
  EXPECT_EQ(open_error(all_bad, options()).rfind(all_bad + ": no valid line: all 2 lines", 0), 0u);
  ParseOptions strict = options();
  strict.strict = true;
  const std::string one_bad = dir.write("one.tsv", test::pad_fields("1") + "\n" + test::pad_fields("0") + "\n" + test::pad_fields("1\t\t\tq") + "\n");
  EXPECT_EQ(open_error(one_bad, strict), one_bad + ":3: I3 (field 4): 'q' is not an integer");
  const std::string half_magic = dir.write("half.cache", "SSYNC");  // not a cache: parsed
  EXPECT_EQ(open_error(half_magic, options()).rfind(half_magic + ": no valid line", 0), 0u);
}

// The same file given twice (the same spelling, another spelling, a hard link) is refused by
// every reader of several files, naming both spellings; different files are read.
TEST(Dataset, RepeatedInputsAreRefused) {
  test::TempDir dir;
  const std::string text = test::pattern_lines(0, 5);
  const std::string a = dir.write("a.tsv", text), b = dir.write("b.tsv", text);
  const std::string other_spelling = dir.path().string() + "/./a.tsv";
  const std::string link = dir.file("link.tsv");
  ASSERT_EQ(::link(a.c_str(), link.c_str()), 0);
  const auto error_of = [](const std::vector<std::string>& paths) -> std::string {
    try {
      Dataset::open_many(paths, options());
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error_of({a, b, a}),
            "'" + a + "' and '" + a + "' are the same file (given twice): an input given twice "
            "would be read twice (its rows trained on twice, its held-out rows trained on); give "
            "each file once");
  EXPECT_EQ(error_of({a, other_spelling}).rfind("'" + a + "' and '" + other_spelling +
                                                "' are the same file (the same device and inode)", 0), 0u);
  EXPECT_EQ(error_of({link, b, a}).rfind("'" + link + "' and '" + a + "' are the same file", 0), 0u);
  EXPECT_EQ(error_of({"-", "-"}).rfind("'-' and '-' are the same file (given twice)", 0), 0u);
  EXPECT_EQ(Dataset::open_many({a, b}, options()).rows(), 10u);
}

TEST(Dataset, FromBlock) {
  DataBlock block(4);
  block.labels()[2] = 1.0f;
  block.sparse()[3 * kNumSparse + 1] = 7;
  const float* labels = block.labels();
  const Dataset d = Dataset::from_block(std::move(block));
  EXPECT_EQ(d.rows(), 4u);
  EXPECT_EQ(d.path(), "<memory>");
  EXPECT_FALSE(d.is_cache());
  EXPECT_FALSE(d.numeric_missing().has_value());
  EXPECT_EQ(d.view().labels, labels);
  EXPECT_EQ(d.view().labels[2], 1.0f);
  EXPECT_EQ(d.view().sparse[3 * kNumSparse + 1], 7u);
}

TEST(SplitEvalTail, TakesTheLastFractionForEvaluation) {
  DataBlock block(10);
  const DataView all = block.view();
  auto [train, eval] = split_eval_tail(all, 0.2);
  EXPECT_EQ(train.rows, 8u);
  EXPECT_EQ(eval.rows, 2u);
  EXPECT_EQ(train.labels, all.labels);
  EXPECT_EQ(eval.labels, all.labels + 8);
  EXPECT_EQ(eval.numeric, all.numeric + 8 * kNumNumeric);
  EXPECT_EQ(eval.sparse, all.sparse + 8 * kNumSparse);
  EXPECT_EQ(split_eval_tail(all, 0.24).second.rows, 2u);   // round(2.4)
  EXPECT_EQ(split_eval_tail(all, 0.25).second.rows, 3u);   // round(2.5): half away from zero
  EXPECT_EQ(split_eval_tail(all, 0.001).second.rows, 1u);  // at least one row
  EXPECT_EQ(split_eval_tail(all, 0.999).first.rows, 1u);   // at least one training row
  EXPECT_EQ(split_eval_tail(DataBlock(2).view(), 0.5).second.rows, 1u);
}

TEST(SplitEvalTail, RejectsBadFractionsAndTinyData) {
  DataBlock block(10);
  for (double f : {0.0, 1.0, -0.1, 1.5, std::nan("")}) {
    try {
      split_eval_tail(block.view(), f);
      FAIL() << f;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("eval_fraction must be strictly between 0 and 1", 0), 0u);
      // A front end spells the field its own way (the CLI: --eval-fraction).
      const std::string spelled = e.message([](std::string_view name) {
        std::string flag = "--" + std::string(name);
        for (char& c : flag) c = c == '_' ? '-' : c;
        return flag;
      });
      EXPECT_EQ(spelled.rfind("--eval-fraction must be strictly between 0 and 1", 0), 0u);
    }
  }
  EXPECT_THROW(split_eval_tail(DataBlock(1).view(), 0.5), Error);
  try {
    split_eval_tail(DataBlock(1).view(), 0.5);
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "eval_fraction: cannot split 1 rows into non-empty training and evaluation parts");
  }
  EXPECT_THROW(split_eval_tail(DataBlock(0).view(), 0.5), Error);
}

TEST(DataStats, HandComputedValues) {
  // 4 rows, tables of 8 rows. Labels 1,0,1,1. I1 = log1p of 0,1,3,7 written directly.
  HashingConfig hashing = HashingConfig::uniform(8);
  hashing.rows[1] = 3;
  DataBlock block(4);
  const float labels[4] = {1, 0, 1, 1};
  const float i1[4] = {0.0f, std::log(2.0f), std::log(4.0f), std::log(8.0f)};
  for (int i = 0; i < 4; ++i) {
    block.labels()[i] = labels[i];
    block.numeric()[i * kNumNumeric] = i1[i];
    block.numeric()[i * kNumNumeric + 12] = 2.5f * static_cast<float>(i == 2);
  }
  // C1 rows: 0 (missing), 3, 3, 5 -> 1 missing, 2 distinct of 7. C2 rows 1,2,1,2 -> 2 of 2.
  const uint32_t c1[4] = {0, 3, 3, 5}, c2[4] = {1, 2, 1, 2};
  for (int i = 0; i < 4; ++i) {
    block.sparse()[i * kNumSparse] = c1[i];
    block.sparse()[i * kNumSparse + 1] = c2[i];
  }
  std::array<uint64_t, kNumNumeric> missing{};
  missing[0] = 1;
  missing[5] = 4;
  const data::DataStats s = data::compute_stats(block.view(), hashing, missing);
  EXPECT_EQ(s.rows, 4u);
  EXPECT_DOUBLE_EQ(s.positive_rate, 0.75);
  EXPECT_NEAR(s.numeric[0].mean, (std::log(2.0) + std::log(4.0) + std::log(8.0)) / 4, 1e-6);
  EXPECT_FLOAT_EQ(s.numeric[0].max, std::log(8.0f));
  EXPECT_DOUBLE_EQ(*s.numeric[0].missing_share, 0.25);
  EXPECT_DOUBLE_EQ(*s.numeric[5].missing_share, 1.0);
  EXPECT_DOUBLE_EQ(s.numeric[12].mean, 0.625);
  EXPECT_EQ(s.numeric[12].max, 2.5f);
  EXPECT_DOUBLE_EQ(s.sparse[0].missing_share, 0.25);
  EXPECT_EQ(s.sparse[0].distinct_rows, 2u);
  EXPECT_DOUBLE_EQ(s.sparse[0].used_share, 2.0 / 7.0);
  EXPECT_DOUBLE_EQ(s.sparse[1].missing_share, 0.0);
  EXPECT_EQ(s.sparse[1].distinct_rows, 2u);
  EXPECT_DOUBLE_EQ(s.sparse[1].used_share, 1.0);
  EXPECT_DOUBLE_EQ(s.sparse[2].missing_share, 1.0);
  EXPECT_EQ(s.sparse[2].distinct_rows, 0u);

  // Tables of up to 2^32 - 1 rows (a cache converted with --rows-per-table 4294967295): the
  // same counts, no 32-bit overflow in the bitmap size, no 512 MiB bitmap per table.
  HashingConfig huge = hashing;
  huge.rows[0] = UINT32_MAX;
  huge.rows[2] = UINT32_MAX;
  block.sparse()[3 * kNumSparse + 2] = UINT32_MAX - 1;
  const data::DataStats h = data::compute_stats(block.view(), huge, missing);
  EXPECT_EQ(h.sparse[0].distinct_rows, 2u);
  EXPECT_DOUBLE_EQ(h.sparse[0].missing_share, 0.25);
  EXPECT_DOUBLE_EQ(h.sparse[0].used_share, 2.0 / (UINT32_MAX - 1.0));
  EXPECT_EQ(h.sparse[2].distinct_rows, 1u);
  EXPECT_DOUBLE_EQ(h.sparse[2].missing_share, 0.75);
  EXPECT_EQ(h.sparse[1].distinct_rows, 2u);
  block.sparse()[3 * kNumSparse + 2] = 0;

  const data::DataStats unknown = data::compute_stats(block.view(), hashing, std::nullopt);
  EXPECT_FALSE(unknown.numeric[0].missing_share.has_value());
  block.sparse()[kNumSparse + 1] = 3;  // out of range for the 3-row table C2
  EXPECT_THROW(data::compute_stats(block.view(), hashing, std::nullopt), Error);
  EXPECT_THROW(data::compute_stats(DataBlock(0).view(), hashing, std::nullopt), Error);
}

// A schema with one multi-hot column, pooled by `pooling`, and rows of it built by hand.
FeatureSchema lists_schema(const char* pooling) {
  SchemaRequest r;
  r.label = "0";
  r.categorical = {"1"};
  r.multi_hot = {std::string("2:|:8:") + pooling};
  return resolve_schema(r, std::nullopt, 3);
}

DataBlock lists_block(size_t rows) {
  DataBlock block(rows, FeatureWidths{0, 1, 1});
  block.bag_offsets().assign(rows + 1, 0);
  for (size_t i = 0; i < rows; ++i) {
    block.labels()[i] = static_cast<float>(i % 2);
    block.sparse()[i] = static_cast<uint32_t>(i % 7);
    block.bag_offsets()[i] = block.bag_ids().size();
    for (size_t k = 0; k < i % 3; ++k) block.bag_ids().push_back(static_cast<uint32_t>(1 + i + k));
  }
  block.bag_offsets()[rows] = block.bag_ids().size();
  return block;
}

TEST(Dataset, SchemaIsTheCachesOrTheOptions) {
  test::TempDir dir;
  const FeatureSchema schema = lists_schema("sum");
  ParseOptions o;
  o.schema = schema;
  o.hashing = hashing_for(schema, 64, 1);
  const std::string a = dir.file("a.cache"), b = dir.file("b.cache"), c = dir.file("c.cache");
  write_cache(a, lists_block(50).view(), o.hashing, {}, schema);
  write_cache(b, lists_block(20).view(), o.hashing, {}, schema);
  write_cache(c, lists_block(20).view(), o.hashing, {}, lists_schema("mean"));
  // The cache's schema, whatever the options say.
  ParseOptions criteo_options = o;
  criteo_options.schema = FeatureSchema::criteo();
  const Dataset one = Dataset::open(a, criteo_options);
  EXPECT_EQ(one.schema(), schema);
  EXPECT_EQ(one.view().multi_hot, 1);
  EXPECT_EQ(one.view().bag_offsets[50], lists_block(50).view().bag_offsets[50]);
  const Dataset two = Dataset::open_many({a, b}, o);
  EXPECT_EQ(two.schema(), schema);
  EXPECT_EQ(two.rows(), 70u);
  try {
    Dataset::open_many({a, b, c}, o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), c + ": its schema differs from that of " + a +
                                         ", files read together must have the same columns: column 2 (2): pooling "
                                         "sum vs mean");
  }
  // Text: the options' schema.
  const std::string tsv = dir.write("t.tsv", test::format_line(test::pattern_line(0)) + "\n");
  EXPECT_EQ(Dataset::open(tsv, options()).schema(), FeatureSchema::criteo());
  EXPECT_EQ(Dataset::from_block(lists_block(3), schema).schema(), schema);
  EXPECT_EQ(Dataset::from_block(DataBlock(3)).schema(), FeatureSchema::criteo());
}

}  // namespace
}  // namespace shadowsync
