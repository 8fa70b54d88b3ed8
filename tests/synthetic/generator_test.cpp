// Tests of generate_synthetic_criteo / read_synthetic_summary: every line's format, bytes
// identical for a seed whatever the thread count, the teacher's log loss recomputed from the
// written text, the positive rate, the JSON summary round trip, and the error paths; the
// teacher's score on a row range (score_synthetic_teacher) against the same recomputation on
// those rows, and the summary found for a data file (find_synthetic_summary).
#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "synthetic/schema.hpp"
#include "synthetic/scramble.hpp"
#include "synthetic/teacher.hpp"
#include "../common/temp_paths.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test (tests/common/temp_paths.hpp).
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("shadowsync_synthetic_test") {}
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_all(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> fields;
  size_t begin = 0;
  while (true) {
    const size_t end = line.find(sep, begin);
    fields.push_back(line.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return fields;
    begin = end + 1;
  }
}

bool is_integer(const std::string& s) {
  size_t i = s.starts_with('-') ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool is_hex8(const std::string& s) {
  if (s.size() != 8) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A test-local parser of the raw Criteo TSV format: checks every line and returns the rows in
// the generator's raw form (ranks recovered through the scramble's inverse).
struct Parsed {
  std::vector<int> labels;
  std::vector<synthetic::RawRow> rows;
};

Parsed parse_and_check(const std::string& text, uint64_t expected_rows) {
  Parsed parsed;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\r'), std::string::npos);
  std::vector<std::string> lines = split(text, '\n');
  lines.pop_back();  // after the final '\n'
  EXPECT_EQ(lines.size(), expected_rows);
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::vector<std::string> f = split(lines[n], '\t');
    if (f.size() != 40u) {
      ADD_FAILURE() << "line " << n + 1 << ": " << f.size() << " fields";
      return parsed;
    }
    if (f[0] != "0" && f[0] != "1") ADD_FAILURE() << "line " << n + 1 << ": label " << f[0];
    synthetic::RawRow row;
    for (int j = 0; j < kNumNumeric; ++j) {
      const std::string& v = f[1 + j];
      row.numeric_missing[j] = v.empty();
      if (!v.empty() && !is_integer(v)) ADD_FAILURE() << "line " << n + 1 << " I" << j + 1 << ": " << v;
      row.numeric[j] = v.empty() ? 0 : std::stoll(v);
    }
    for (int c = 0; c < kNumSparse; ++c) {
      const std::string& v = f[1 + kNumNumeric + c];
      if (v.empty()) {
        row.rank[c] = 0;
        continue;
      }
      if (!is_hex8(v)) ADD_FAILURE() << "line " << n + 1 << " C" << c + 1 << ": " << v;
      row.rank[c] = synthetic::categorical_rank(c, static_cast<uint32_t>(std::stoul(v, nullptr, 16)));
      if (row.rank[c] < 1 || row.rank[c] > synthetic::kCategoricalColumns[c].cardinality) {
        ADD_FAILURE() << "line " << n + 1 << " C" << c + 1 << ": rank " << row.rank[c];
      }
    }
    parsed.labels.push_back(f[0] == "1");
    parsed.rows.push_back(row);
  }
  return parsed;
}

TEST(SyntheticCriteo, FormatTeacherLossAndSummary) {
  TempDir dir;
  const std::string path = dir.file("data.tsv");
  constexpr uint64_t rows = 30001;  // not a multiple of the chunk size
  const SyntheticSummary s = generate_synthetic_criteo({rows, 7}, path);
  EXPECT_EQ(s.rows, rows);
  EXPECT_EQ(s.seed, 7u);

  const Parsed parsed = parse_and_check(read_all(path), rows);
  ASSERT_EQ(parsed.rows.size(), rows);

  // Recompute the teacher's logits from the text: the log loss must match the summary.
  const synthetic::RowSampler sampler;
  const synthetic::Teacher teacher(7, sampler);
  double loss_sum = 0;
  uint64_t positives = 0;
  BinaryMetrics metrics;
  std::vector<int> missing_c22(1, 0);
  for (size_t i = 0; i < rows; ++i) {
    const double z = teacher.logit(parsed.rows[i]);
    loss_sum += logloss_of_logit(z, parsed.labels[i]);
    positives += static_cast<uint64_t>(parsed.labels[i]);
    metrics.add_logit(static_cast<float>(z), static_cast<float>(parsed.labels[i]));
  }
  EXPECT_EQ(s.positive_rate, static_cast<double>(positives) / rows);
  EXPECT_NEAR(s.teacher_logloss, loss_sum / rows, 1e-12);
  EXPECT_NEAR(s.teacher_ne, (loss_sum / rows) / binary_entropy(s.positive_rate), 1e-12);
  EXPECT_NEAR(s.teacher_ne, metrics.ne(), 1e-5);  // same through BinaryMetrics (float logits)

  // The planted model: about 25 % positives, clearly informative, calibrated.
  EXPECT_GT(s.positive_rate, 0.22);
  EXPECT_LT(s.positive_rate, 0.28);
  EXPECT_GT(s.teacher_ne, 0.6);
  EXPECT_LT(s.teacher_ne, 0.8);
  EXPECT_GT(metrics.auc(), 0.8);
  EXPECT_NEAR(metrics.calibration(), 1.0, 0.05);

  // The summary JSON round-trips exactly.
  const SyntheticSummary r = read_synthetic_summary(path + ".json");
  EXPECT_EQ(r.rows, s.rows);
  EXPECT_EQ(r.seed, s.seed);
  EXPECT_EQ(r.positive_rate, s.positive_rate);
  EXPECT_EQ(r.teacher_logloss, s.teacher_logloss);
  EXPECT_EQ(r.teacher_ne, s.teacher_ne);
}

TEST(SyntheticCriteo, SameSeedSameBytesForAnyThreadCount) {
  TempDir dir;
  constexpr uint64_t rows = 3 * kSyntheticChunkRows + 123;
  std::string one, three;
  SyntheticSummary s1, s3;
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
    s1 = generate_synthetic_criteo({rows, 42}, dir.file("one.tsv"));
    one = read_all(dir.file("one.tsv"));
  }
  {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 3);
    s3 = generate_synthetic_criteo({rows, 42}, dir.file("three.tsv"));
    three = read_all(dir.file("three.tsv"));
  }
  EXPECT_FALSE(one.empty());
  EXPECT_TRUE(one == three);
  EXPECT_EQ(s1.teacher_logloss, s3.teacher_logloss);  // sums are made in chunk order
  EXPECT_EQ(s1.positive_rate, s3.positive_rate);
  EXPECT_EQ(read_all(dir.file("one.tsv.json")), read_all(dir.file("three.tsv.json")));

  // A shorter run is a prefix of the longer one (the streams depend on the chunk only).
  generate_synthetic_criteo({1000, 42}, dir.file("short.tsv"));
  const std::string short_text = read_all(dir.file("short.tsv"));
  EXPECT_EQ(one.substr(0, short_text.size()), short_text);
}

TEST(SyntheticCriteo, DifferentSeedsDiffer) {
  TempDir dir;
  generate_synthetic_criteo({2000, 1}, dir.file("a.tsv"));
  generate_synthetic_criteo({2000, 2}, dir.file("b.tsv"));
  const std::vector<std::string> a = split(read_all(dir.file("a.tsv")), '\n');
  const std::vector<std::string> b = split(read_all(dir.file("b.tsv")), '\n');
  ASSERT_EQ(a.size(), b.size());
  size_t equal_lines = 0;
  for (size_t i = 0; i + 1 < a.size(); ++i) equal_lines += a[i] == b[i];
  EXPECT_EQ(equal_lines, 0u);
}

TEST(SyntheticCriteo, SingleRow) {
  TempDir dir;
  const SyntheticSummary s = generate_synthetic_criteo({1, 5}, dir.file("one.tsv"));
  EXPECT_EQ(s.rows, 1u);
  const Parsed parsed = parse_and_check(read_all(dir.file("one.tsv")), 1);
  ASSERT_EQ(parsed.labels.size(), 1u);
  EXPECT_EQ(s.positive_rate, parsed.labels[0] ? 1.0 : 0.0);
  // One label: the entropy of the positive rate is 0, so NE is undefined (NaN, JSON null).
  EXPECT_TRUE(std::isnan(s.teacher_ne)) << s.teacher_ne;
  EXPECT_TRUE(std::isnan(read_synthetic_summary(dir.file("one.tsv") + ".json").teacher_ne));
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SyntheticCriteo, GenerateErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { generate_synthetic_criteo({0, 1}, dir.file("x.tsv")); }).find("rows must be"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              generate_synthetic_criteo({kSyntheticMaxRows + 1, 1}, dir.file("x.tsv"));
            }).find("rows must be"),
            std::string::npos);
  const std::string bad = dir.file("no/such/dir/x.tsv");
  const std::string message = error_of([&] { generate_synthetic_criteo({10, 1}, bad); });
  EXPECT_NE(message.find(bad), std::string::npos) << message;
  EXPECT_NE(message.find("cannot create"), std::string::npos) << message;
  // A non-empty directory named like the summary file: the .json cannot be written.
  fs::create_directories(dir.file("y.tsv.json"));
  write_all(dir.file("y.tsv.json/keep"), "x");
  const std::string json_message = error_of([&] { generate_synthetic_criteo({10, 1}, dir.file("y.tsv")); });
  EXPECT_NE(json_message.find("y.tsv.json"), std::string::npos) << json_message;
}

TEST(SyntheticCriteo, SummaryReadErrors) {
  TempDir dir;
  const std::string missing = dir.file("missing.json");
  EXPECT_NE(error_of([&] { read_synthetic_summary(missing); }).find(missing), std::string::npos);

  const std::string path = dir.file("s.json");
  const auto message_for = [&](const std::string& text) {
    write_all(path, text);
    return error_of([&] { read_synthetic_summary(path); });
  };
  const std::string good_tail =
      R"("rows": 10, "seed": 3, "positive_rate": 0.3, "teacher_logloss": 0.4, "teacher_ne": 0.7})";
  EXPECT_NE(message_for("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(message_for("[1, 2]").find("expected a JSON object"), std::string::npos);
  EXPECT_NE(message_for(R"({"format": "other", )" + good_tail).find("'format'"), std::string::npos);
  const std::string fmt = R"({"format": "shadowsync-synthetic-criteo", )";
  EXPECT_NE(message_for(fmt + R"("seed": 3, "positive_rate": 0.3, "teacher_logloss": 0.4, "teacher_ne": 0.7})")
                .find("'rows'"),
            std::string::npos);
  EXPECT_NE(message_for(fmt + R"("rows": "ten", "seed": 3, "positive_rate": 0.3, "teacher_logloss": 0.4, "teacher_ne": 0.7})")
                .find("'rows'"),
            std::string::npos);
  EXPECT_NE(message_for(fmt + R"("rows": -4, "seed": 3, "positive_rate": 0.3, "teacher_logloss": 0.4, "teacher_ne": 0.7})")
                .find("'rows'"),
            std::string::npos);
  EXPECT_NE(message_for(fmt + R"("rows": 10, "seed": 3, "positive_rate": 0.3, "teacher_logloss": 0.4})")
                .find("'teacher_ne'"),
            std::string::npos);
  EXPECT_NE(message_for(fmt + R"("rows": 10, "seed": 3, "positive_rate": 1.5, "teacher_logloss": 0.4, "teacher_ne": 0.7})")
                .find("'positive_rate'"),
            std::string::npos);
  // And the good one parses, with the message naming the file for all of the above.
  EXPECT_NE(message_for("{not json").find(path), std::string::npos);
  write_all(path, fmt + good_tail);
  const SyntheticSummary s = read_synthetic_summary(path);
  EXPECT_EQ(s.rows, 10u);
  EXPECT_EQ(s.seed, 3u);
  EXPECT_EQ(s.positive_rate, 0.3);
  EXPECT_EQ(s.teacher_logloss, 0.4);
  EXPECT_EQ(s.teacher_ne, 0.7);
}

std::vector<float> float_labels(const Parsed& parsed, size_t begin, size_t end) {
  return std::vector<float>(parsed.labels.begin() + static_cast<std::ptrdiff_t>(begin),
                            parsed.labels.begin() + static_cast<std::ptrdiff_t>(end));
}

TEST(SyntheticTeacherScore, WholeFileEqualsTheSummary) {
  TempDir dir;
  constexpr uint64_t rows = 2 * kSyntheticChunkRows + 77;
  const SyntheticSummary s = generate_synthetic_criteo({rows, 11}, dir.file("d.tsv"));
  const Parsed parsed = parse_and_check(read_all(dir.file("d.tsv")), rows);
  const std::vector<float> labels = float_labels(parsed, 0, rows);
  const TeacherScore t = score_synthetic_teacher(11, 0, labels);
  EXPECT_EQ(t.first_row, 0u);
  EXPECT_EQ(t.rows, rows);
  EXPECT_EQ(static_cast<double>(t.positives) / rows, s.positive_rate);
  EXPECT_EQ(t.logloss, s.teacher_logloss);  // the same sums in the same order
  EXPECT_EQ(t.ne, s.teacher_ne);
}

TEST(SyntheticTeacherScore, TailEqualsTheTeacherRecomputedOnThoseRows) {
  TempDir dir;
  constexpr uint64_t rows = 3 * kSyntheticChunkRows + 500;
  constexpr uint64_t first = rows - 1300;  // starts inside a chunk, ends in the last, short one
  generate_synthetic_criteo({rows, 5}, dir.file("d.tsv"));
  const Parsed parsed = parse_and_check(read_all(dir.file("d.tsv")), rows);
  // By hand: the teacher's logit on each parsed tail row, its label from the text.
  const synthetic::RowSampler sampler;
  const synthetic::Teacher teacher(5, sampler);
  double loss_sum = 0;
  uint64_t positives = 0;
  for (size_t i = first; i < rows; ++i) {
    loss_sum += logloss_of_logit(teacher.logit(parsed.rows[i]), parsed.labels[i]);
    positives += static_cast<uint64_t>(parsed.labels[i]);
  }
  const std::vector<float> labels = float_labels(parsed, first, rows);
  const TeacherScore t = score_synthetic_teacher(5, first, labels);
  EXPECT_EQ(t.first_row, first);
  EXPECT_EQ(t.rows, 1300u);
  EXPECT_EQ(t.positives, positives);
  EXPECT_NEAR(t.logloss, loss_sum / 1300, 1e-12);
  EXPECT_NEAR(t.ne, (loss_sum / 1300) / binary_entropy(static_cast<double>(positives) / 1300), 1e-12);
  // Not the whole file's figure: the tail has its own positive rate and loss.
  EXPECT_NE(t.ne, read_synthetic_summary(dir.file("d.tsv.json")).teacher_ne);

  // The same for any thread count (sums in row order).
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, 1);
  const TeacherScore one = score_synthetic_teacher(5, first, labels);
  EXPECT_EQ(one.logloss, t.logloss);
  EXPECT_EQ(one.positives, t.positives);
}

TEST(SyntheticTeacherScore, OneRowByHandAndEmpty) {
  TempDir dir;
  generate_synthetic_criteo({10, 3}, dir.file("d.tsv"));
  const Parsed parsed = parse_and_check(read_all(dir.file("d.tsv")), 10);
  const synthetic::RowSampler sampler;
  const synthetic::Teacher teacher(3, sampler);
  const std::vector<float> label = float_labels(parsed, 7, 8);
  const TeacherScore t = score_synthetic_teacher(3, 7, label);
  EXPECT_EQ(t.rows, 1u);
  EXPECT_EQ(t.positives, static_cast<uint64_t>(parsed.labels[7]));
  EXPECT_NEAR(t.logloss, logloss_of_logit(teacher.logit(parsed.rows[7]), parsed.labels[7]), 1e-15);
  EXPECT_TRUE(std::isnan(t.ne));  // one label: NE undefined

  const TeacherScore none = score_synthetic_teacher(3, 4, {});
  EXPECT_EQ(none.rows, 0u);
  EXPECT_TRUE(std::isnan(none.ne));
}

TEST(SyntheticTeacherScore, OtherLabelsAreRefusedNamingTheRow) {
  TempDir dir;
  generate_synthetic_criteo({6000, 8}, dir.file("d.tsv"));
  const Parsed parsed = parse_and_check(read_all(dir.file("d.tsv")), 6000);
  std::vector<float> labels = float_labels(parsed, 5000, 6000);
  labels[123] = 1.0f - labels[123];
  try {
    score_synthetic_teacher(8, 5000, labels);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 5123 (counting from 0) has label"), std::string::npos) << e.what();
  }
  // Another seed's rows: refused too.
  labels[123] = 1.0f - labels[123];
  EXPECT_THROW(score_synthetic_teacher(9, 5000, labels), Error);
}

TEST(SyntheticTeacherScore, SummaryFoundForTheFileOrItsCache) {
  TempDir dir;
  generate_synthetic_criteo({300, 4}, dir.file("d.tsv"));
  std::optional<FoundSyntheticSummary> found = find_synthetic_summary(dir.file("d.tsv"), 300);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, dir.file("d.tsv.json"));
  EXPECT_EQ(found->summary.seed, 4u);
  // A cache converted from it, d.bin: d.tsv.json.
  found = find_synthetic_summary(dir.file("d.bin"), 300);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, dir.file("d.tsv.json"));
  // No summary: nothing; a summary of another row count: an error naming both.
  EXPECT_FALSE(find_synthetic_summary(dir.file("other.tsv"), 300));
  try {
    find_synthetic_summary(dir.file("d.tsv"), 299);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d.tsv.json: describes 300 generated rows, but "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("d.tsv has 299 rows"), std::string::npos) << e.what();
  }
  // score_teacher_for_data: the same score through the summary's seed.
  const Parsed parsed = parse_and_check(read_all(dir.file("d.tsv")), 300);
  const std::vector<float> tail = float_labels(parsed, 270, 300);
  const std::optional<TeacherScore> t = score_teacher_for_data(dir.file("d.bin"), 300, 270, tail);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->logloss, score_synthetic_teacher(4, 270, tail).logloss);
  EXPECT_FALSE(score_teacher_for_data(dir.file("other.bin"), 300, 270, tail));
}

}  // namespace
}  // namespace shadowsync
