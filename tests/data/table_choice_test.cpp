// choose_hashing, the table-size rule of every front end: given sizes, a cache's own hashing,
// tables sized to the data (checked against distinct values counted here with std::set), and
// the default for input that can be read only once (a FIFO, never opened).
#include "shadowsync/data/table_choice.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <filesystem>
#include <set>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "../common/temp_paths.hpp"
#include "test_util.hpp"

namespace shadowsync::data {
namespace {

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_table_choice", name); }

const std::string& small_tsv() {
  static const std::string path = [] {
    const std::string p = temp_path("small.tsv");
    SyntheticOptions options;
    options.rows = 1999;
    options.seed = 4;
    generate_synthetic_criteo(options, p);
    return p;
  }();
  return path;
}

TEST(TableChoice, GivenSizesWinAndAreRangeChecked) {
  const HashingChoice c = choose_hashing({small_tsv()}, 1000, 7, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Given);
  EXPECT_EQ(c.hashing, HashingConfig::uniform(1000, 7));
  EXPECT_EQ(hashing_choice_text(c), "");
  try {
    choose_hashing({small_tsv()}, 1, 0, ParseOptions{});
    FAIL() << "a table of 1 row was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rows_per_table: Value 1 not in range 2 to 1073741824"), std::string::npos)
        << e.what();
  }
}

TEST(TableChoice, TextFilesGetTablesSizedToTheirData) {
  const HashingChoice c = choose_hashing({small_tsv()}, std::nullopt, 3, ParseOptions{});
  ASSERT_EQ(c.source, HashingChoice::Source::SizedToData);
  EXPECT_EQ(c.hashing.salt, 3u);
  // Distinct used rows of each table at the default size, counted independently.
  ParseOptions at_default;
  at_default.hashing = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, 3);
  const Dataset d = Dataset::open(small_tsv(), at_default);
  const DataView v = d.view();
  uint64_t total_rows = 0;
  for (int t = 0; t < kNumSparse; ++t) {
    std::set<uint32_t> used;
    for (size_t i = 0; i < v.rows; ++i) {
      const uint32_t row = v.sparse[i * kNumSparse + static_cast<size_t>(t)];
      if (row != 0) used.insert(row);
    }
    const uint64_t rows = c.hashing.rows[static_cast<size_t>(t)];
    total_rows += rows;
    EXPECT_TRUE(std::has_single_bit(rows)) << "table " << t << ": " << rows;
    EXPECT_GT(rows, 2 * used.size()) << "table " << t;
    EXPECT_LE(rows, std::max<uint64_t>(2, std::bit_ceil(2 * used.size() + 1))) << "table " << t;
  }
  // 1,999 rows: every table far below the default 131,072 rows.
  EXPECT_LT(total_rows, 26u * 8192u) << "tables should fit 1,999 rows";
  EXPECT_NE(hashing_choice_text(c).find("tables sized to the data: "), std::string::npos) << hashing_choice_text(c);
}

TEST(TableChoice, ACacheKeepsItsOwnHashingWhereverItStands) {
  ParseOptions options;
  options.hashing = HashingConfig::uniform(4096, 9);
  const Dataset d = Dataset::open(small_tsv(), options);
  const std::string cache = temp_path("c.bin");
  write_cache(cache, d.view(), options.hashing);
  HashingChoice c = choose_hashing({cache}, std::nullopt, 0, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Cache);
  EXPECT_EQ(c.hashing, options.hashing);
  c = choose_hashing({small_tsv(), cache}, std::nullopt, 0, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Cache) << "a text file before the cache is read with the cache's hashing";
  EXPECT_EQ(c.hashing, options.hashing);
  c = choose_hashing({cache}, std::nullopt, 5, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Default) << "another salt: opening the cache refuses it";
  std::filesystem::remove(cache);
}

TEST(TableChoice, InputReadOnceKeepsTheDefaultWithoutBeingOpened) {
  const std::string fifo = temp_path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Opening a FIFO without a writer would block this test: the rule must not open it.
  HashingChoice c = choose_hashing({small_tsv(), fifo}, std::nullopt, 0, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Default);
  EXPECT_EQ(c.hashing, HashingConfig::uniform());
  c = choose_hashing({"-"}, std::nullopt, 0, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Default);
  EXPECT_NE(hashing_choice_text(c).find("the default 131072 rows"), std::string::npos) << hashing_choice_text(c);
  std::filesystem::remove(fifo);
}

// A file that cannot be read is left to the reader that opens it (which names it): no error here.
TEST(TableChoice, AMissingFileGetsTheDefault) {
  const HashingChoice c = choose_hashing({temp_path("missing.tsv")}, std::nullopt, 0, ParseOptions{});
  EXPECT_EQ(c.source, HashingChoice::Source::Default);
}

// The tables are the schema's: given sizes and sizes from the data, one per table (2 categorical
// and 1 multi-hot here), sized to each table's used rows.
TEST(TableChoice, TablesOfTheSchema) {
  const test::TempDir dir;
  std::string text;
  for (uint64_t i = 0; i < 300; ++i) text += test::mixed_line(i) + "\n";
  const std::string path = dir.write("x.tsv", text);
  ParseOptions reading;
  reading.schema = test::mixed_schema();
  const HashingChoice given = choose_hashing({path}, 64, 3, reading);
  EXPECT_EQ(given.hashing.rows, (std::vector<uint32_t>{64, 64, 64}));
  const HashingChoice sized = choose_hashing({path}, std::nullopt, 3, reading);
  EXPECT_EQ(sized.source, HashingChoice::Source::SizedToData);
  // site: 17 distinct values, app: 5, tags: 23 -> 2 x used + 1 rounded up to a power of two.
  EXPECT_EQ(sized.hashing.rows, (std::vector<uint32_t>{64, 16, 64}));
  EXPECT_EQ(sized.hashing.salt, 3u);
}

}  // namespace
}  // namespace shadowsync::data
