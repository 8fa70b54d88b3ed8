// The generator of logs of any schema (synthetic_schema.hpp): a multi-hot schema's rows are the
// same bytes for a seed (any thread count) and other for another seed; every line has the
// schema's field count, a header of its names, lists of at most max_length ids; the teacher's
// NE recomputed from the file's labels and the regenerated logits is the stated one; the
// teacher uses the multi-hot column (leaving it out costs NE); spec JSON round trip and errors.
// Criteo's generator keeps its bytes (a fixed hash of its output for one seed).
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "../common/temp_paths.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"
#include "synthetic/schema_rows.hpp"
#include "synthetic/schema_teacher.hpp"

namespace shadowsync {
namespace {

std::string temp_path(const std::string& name) { return test::temp_path_for("shadowsync_schema_gen", name); }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> split(const std::string& text, char at) {
  std::vector<std::string> out;
  size_t begin = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == at) {
      out.push_back(text.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines = split(text, '\n');
  EXPECT_TRUE(!lines.empty() && lines.back().empty()) << "the last line must end in \\n";
  lines.pop_back();
  return lines;
}

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// A schema with a multi-hot column in the middle, CSV.
SyntheticSpec multi_hot_spec() {
  FeatureSchema s;
  s.header = true;
  s.hex_ids = false;
  s.columns.push_back({"row_id", ColumnKind::Ignored});
  s.columns.push_back({"clicked", ColumnKind::Label});
  s.columns.push_back({"site", ColumnKind::Categorical});
  SchemaColumn tags{"tags", ColumnKind::MultiHot};
  tags.separator = '|';
  tags.max_length = 5;
  s.columns.push_back(tags);
  s.columns.push_back({"device", ColumnKind::Categorical});
  s.columns.push_back({"count", ColumnKind::Numeric});
  SchemaColumn price{"price", ColumnKind::Numeric};
  price.transform = NumericTransformKind::Identity;
  s.columns.push_back(price);
  SyntheticSpec spec = SyntheticSpec::for_schema(s, ',');
  spec.columns[3].values = 500;
  spec.columns[3].mean_length = 3;
  return spec;
}

TEST(SyntheticSchema, SameSeedSameBytesForAnyThreadCountOtherSeedOtherBytes) {
  const SyntheticSpec spec = multi_hot_spec();
  const std::string a = temp_path("a.csv"), b = temp_path("b.csv"), c = temp_path("c.csv");
  {
    tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    generate_synthetic({10000, 5}, spec, a);
  }
  generate_synthetic({10000, 5}, spec, b);
  generate_synthetic({10000, 6}, spec, c);
  EXPECT_EQ(read_all(a), read_all(b));
  EXPECT_EQ(read_all(a + ".json"), read_all(b + ".json"));
  EXPECT_NE(read_all(a), read_all(c));
  // The first rows do not depend on the row count.
  const std::string d = temp_path("d.csv");
  generate_synthetic({5000, 5}, spec, d);
  EXPECT_EQ(read_all(a).substr(0, read_all(d).size()), read_all(d));
  for (const std::string& p : {a, b, c, d}) {
    std::filesystem::remove(p);
    std::filesystem::remove(p + ".json");
  }
}

TEST(SyntheticSchema, RowsHaveTheSchemasFieldsAndTheStatedTeacherNE) {
  const SyntheticSpec spec = multi_hot_spec();
  const std::string path = temp_path("rows.csv");
  const uint64_t rows = 20000;
  const SyntheticSummary summary = generate_synthetic({rows, 11}, spec, path);
  const std::vector<std::string> lines = lines_of(read_all(path));
  ASSERT_EQ(lines.size(), rows + 1);
  EXPECT_EQ(lines[0], "row_id,clicked,site,tags,device,count,price");
  std::vector<float> labels;
  uint64_t lists = 0, ids = 0, longest = 0, empty_lists = 0, missing_price = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> f = split(lines[i], ',');
    ASSERT_EQ(f.size(), 7u) << "line " << i + 1 << ": " << lines[i];
    EXPECT_EQ(f[0].size(), 16u);
    ASSERT_TRUE(f[1] == "0" || f[1] == "1") << f[1];
    labels.push_back(f[1] == "1" ? 1.0f : 0.0f);
    for (const int cat : {2, 4}) EXPECT_TRUE(f[size_t(cat)].empty() || f[size_t(cat)].size() == 8u) << f[size_t(cat)];
    if (f[3].empty()) {
      ++empty_lists;
    } else {
      const std::vector<std::string> items = split(f[3], '|');
      ++lists;
      ids += items.size();
      longest = std::max<uint64_t>(longest, items.size());
      for (const std::string& item : items) EXPECT_EQ(item.size(), 8u) << f[3];
    }
    if (!f[5].empty()) EXPECT_EQ(f[5].find_first_not_of("0123456789"), std::string::npos) << f[5];
    if (f[6].empty()) {
      ++missing_price;
    } else {
      EXPECT_EQ(f[6].size() - f[6].find('.'), 5u) << f[6];  // 4 decimals
    }
  }
  EXPECT_EQ(longest, 5u);  // max_length cuts the lists
  EXPECT_NEAR(static_cast<double>(ids) / static_cast<double>(lists), 2.9, 0.2);  // mean 3, a few cut to 5
  EXPECT_NEAR(static_cast<double>(empty_lists) / rows, 0.1, 0.01);  // the column's missing rate
  EXPECT_GT(missing_price, 0u);

  // The teacher's NE on the file's labels, from its regenerated logits: the stated value.
  const std::vector<double> logits = synthetic_teacher_logits(spec, 11, 0, rows);
  double loss = 0, positives = 0;
  for (size_t i = 0; i < rows; ++i) {
    loss += logloss_of_logit(logits[i], labels[i] > 0.5f ? 1 : 0);
    positives += labels[i];
  }
  const double ne = loss / rows / binary_entropy(positives / rows);
  EXPECT_NEAR(ne, summary.teacher_ne, 1e-12);
  EXPECT_NEAR(positives / rows, summary.positive_rate, 1e-15);
  EXPECT_GT(summary.teacher_ne, 0.5);
  EXPECT_LT(summary.teacher_ne, 0.95);
  EXPECT_NEAR(summary.positive_rate, 0.25, 0.03);
  const TeacherScore score = score_synthetic_teacher(spec, 11, 0, labels);
  EXPECT_NEAR(score.ne, summary.teacher_ne, 1e-12);
  // The tail alone, as train's held-out rows, and through the file's summary.
  const std::span<const float> tail(labels.data() + 15000, 5000);
  const std::optional<TeacherScore> found = score_teacher_for_data(path, rows, 15000, tail);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->rows, 5000u);
  EXPECT_NEAR(found->ne, score_synthetic_teacher(spec, 11, 15000, tail).ne, 1e-15);

  // The summary records the spec and reads back as written.
  const std::optional<SyntheticSpec> stored = read_synthetic_spec(path + ".json");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, spec);
  EXPECT_EQ(read_synthetic_summary(path + ".json").teacher_ne, summary.teacher_ne);

  // The teacher uses the multi-hot column: leaving its terms out (bias recalibrated) costs NE on
  // the same rows, as it does for a categorical column.
  const synthetic::SchemaRowSampler sampler(spec);
  for (const int column : {3, 2}) {
    const synthetic::SchemaTeacher without(11, sampler, column);
    const synthetic::SchemaTeacher with(11, sampler);
    synthetic::Rng rng(synthetic::hash_pair(11, 0));
    synthetic::SchemaRow row;
    double loss_with = 0, loss_without = 0, pos = 0;
    for (size_t i = 0; i < kSyntheticChunkRows; ++i) {
      sampler.sample(rng, row);
      const double z = with.logit(row);
      const int label = rng.uniform() < 1.0 / (1.0 + std::exp(-z)) ? 1 : 0;
      ASSERT_EQ(label, labels[i] > 0.5f ? 1 : 0) << i;
      loss_with += logloss_of_logit(z, label);
      loss_without += logloss_of_logit(without.logit(row), label);
      pos += label;
    }
    const double h = binary_entropy(pos / kSyntheticChunkRows) * kSyntheticChunkRows;
    EXPECT_GT(loss_without / h - loss_with / h, 0.02) << "column " << column;
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".json");
}

TEST(SyntheticSchema, AvazuPresetHasItsColumns) {
  const SyntheticSpec avazu = SyntheticSpec::avazu();
  const FeatureSchema& s = avazu.schema;
  EXPECT_TRUE(s.header);
  EXPECT_FALSE(s.hex_ids);
  EXPECT_EQ(s.columns[0].kind, ColumnKind::Ignored);
  EXPECT_EQ(s.label_column(), 1);
  EXPECT_EQ(s.categorical_count(), 7);
  EXPECT_EQ(s.multi_hot_count(), 1);
  EXPECT_EQ(s.numeric_count(), 3);
  uint32_t fewest = UINT32_MAX, most = 0;
  for (int t = 0; t < 7; ++t) {
    fewest = std::min(fewest, avazu.columns[size_t(s.table_column(t))].values);
    most = std::max(most, avazu.columns[size_t(s.table_column(t))].values);
  }
  EXPECT_EQ(fewest, 7u);
  EXPECT_EQ(most, 5000u);
  const std::string path = temp_path("avazu.tsv");
  const SyntheticSummary summary = generate_synthetic({3000, 2}, avazu, path);
  const std::vector<std::string> lines = lines_of(read_all(path));
  ASSERT_EQ(lines.size(), 3001u);
  EXPECT_EQ(lines[0], "id\tclick\tC1\tbanner_pos\tsite_id\tsite_category\tapp_id\tdevice_type\tdevice_model\ttags\thour\t"
                      "impressions\tprice");
  for (size_t i = 1; i < lines.size(); ++i) ASSERT_EQ(split(lines[i], '\t').size(), 13u) << lines[i];
  EXPECT_NEAR(summary.positive_rate, 0.25, 0.04);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".json");
}

TEST(SyntheticSchema, SpecJsonRoundTripAndErrorsNameTheField) {
  const SyntheticSpec spec = multi_hot_spec();
  EXPECT_EQ(SyntheticSpec::from_json(spec.to_json(), "x"), spec);
  // A plain schema: every column gets for_schema()'s distributions.
  EXPECT_EQ(SyntheticSpec::from_json(spec.schema.to_json(), "x"), SyntheticSpec::for_schema(spec.schema));
  // Some columns named only.
  nlohmann::json j = {{"schema", spec.schema.to_json()}, {"columns", {{"site", {{"values", 42}}}}}};
  const SyntheticSpec some = SyntheticSpec::from_json(j, "x");
  EXPECT_EQ(some.columns[2].values, 42u);
  EXPECT_EQ(some.columns[4], SyntheticSpec::for_schema(spec.schema).columns[4]);
  auto error = [](const nlohmann::json& given) {
    try {
      SyntheticSpec::from_json(given, "s.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  j["columns"] = {{"nope", {{"values", 3}}}};
  EXPECT_EQ(error(j), "s.json: columns.nope: no column of that name in the schema");
  j["columns"] = {{"clicked", {{"values", 3}}}};
  EXPECT_EQ(error(j), "s.json: columns.clicked: not a feature column (label or ignored)");
  j["columns"] = {{"tags", {{"mean_length", 9}}}};
  EXPECT_EQ(error(j), "s.json: column 3 (tags): mean_length 9 not in [1, max_length 5]");
  j["columns"] = {{"site", {{"mean_length", 4}}}};
  EXPECT_EQ(error(j), "s.json: columns.site.mean_length does not apply to a categorical column (its fields: values, "
                      "zipf, missing)");
  j["columns"] = {{"site", {{"sigma", 1}}}};
  EXPECT_EQ(error(j), "s.json: columns.site.sigma does not apply to a categorical column (its fields: values, zipf, "
                      "missing)");
  j["columns"] = {{"count", {{"values", 3}}}};
  EXPECT_EQ(error(j), "s.json: columns.count.values does not apply to a numeric column (its fields: missing, mu, "
                      "sigma)");
  j["columns"] = {{"site", {{"colour", 1}}}};
  EXPECT_EQ(error(j), "s.json: columns.site: unknown field \"colour\" (valid: values, zipf, missing, mean_length, mu, sigma)");
  j["columns"] = nlohmann::json::object();
  j["delimiter"] = "|";
  EXPECT_EQ(error(j), "s.json: column 3 (tags): the list separator is the field delimiter");
  j["delimiter"] = "a";  // would appear inside hex ids
  EXPECT_EQ(error(j), "s.json: the delimiter must be a tab or one printable ASCII character that is not a letter, "
                      "digit, space, '-', '.' or '\"'");
}

// Long lists (mean length above 30) keep their mean: no underflow of the product of uniforms.
TEST(SyntheticSchema, LongListsKeepTheirMeanLength) {
  SyntheticSpec spec = multi_hot_spec();
  spec.schema.columns[3].max_length = 1000;
  spec.columns[3].mean_length = 800;
  spec.columns[3].missing = 0;
  const synthetic::SchemaRowSampler sampler(spec);
  synthetic::Rng rng(3);
  synthetic::SchemaRow row;
  double total = 0;
  for (int i = 0; i < 2000; ++i) {
    sampler.sample(rng, row);
    total += static_cast<double>(row.lists[0].size());
  }
  EXPECT_NEAR(total / 2000, 800, 3);
}

// Criteo's generator is untouched by schemas: the bytes of one seed's output are fixed (the size
// and FNV-1a hash of `gen --rows 5000 --seed 7` as written before schemas existed).
constexpr size_t kCriteoBytes = 1211541;
constexpr uint64_t kCriteoHash = 0xf42e9a9453b43933ull;

TEST(SyntheticSchema, CriteoOutputIsUnchanged) {
  const std::string path = temp_path("criteo.tsv");
  generate_synthetic_criteo({5000, 7}, path);
  const std::string text = read_all(path);
  EXPECT_EQ(text.size(), kCriteoBytes);
  EXPECT_EQ(fnv1a(text), kCriteoHash);
  std::filesystem::remove(path);
  std::filesystem::remove(path + ".json");
}

}  // namespace
}  // namespace shadowsync
