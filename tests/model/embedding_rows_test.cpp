// BF16 embedding rows (embedding_store.hpp, RowFormat::Bf16): the store's layout, BF16 rounding
// (nearest-even exactly, stochastic within one unit and unbiased), the gather and the row-wise
// Adagrad update against an fp32 store holding the same values (exact: the update computes in
// fp32 and rounds once), deterministic repeats, and one training pass's NE against fp32 rows and
// an untrained model.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/named_parameters.hpp"

namespace shadowsync {
namespace {

TEST(EmbeddingRows, Bf16LayoutHalvesTheRowBytes) {
  const HashingConfig h = HashingConfig::uniform(5, 0, 3);
  EmbeddingStore fp32(h, 16), bf16(h, 16, RowFormat::Bf16);
  EXPECT_EQ(fp32.format(), RowFormat::Fp32);
  EXPECT_EQ(bf16.format(), RowFormat::Bf16);
  EXPECT_EQ(fp32.row_stride(), 16);
  EXPECT_EQ(bf16.row_stride(), 16);
  EXPECT_EQ(fp32.row_bytes(), 64u);
  EXPECT_EQ(bf16.row_bytes(), 32u);  // two rows per 64-byte cache line
  const auto line = [](const void* p) { return reinterpret_cast<uintptr_t>(p) / 64; };
  EXPECT_EQ(line(bf16.row_address(1, 2)), line(bf16.row_address(1, 3)));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(bf16.row_address(1, 2)) % 64, 0u);
  EXPECT_EQ(static_cast<const void*>(bf16.row_bf16(1, 3)), bf16.row_address(1, 3));
  EXPECT_EQ(fp32.table_words(0), 5u * 16u);
  EXPECT_EQ(bf16.table_words(0), 5u * 8u);
  EXPECT_EQ(bf16.state_bytes(), 3u * (5u * 32u + 5u * 4u));
  // dim 3: stride 4 halves (8 bytes); an odd number of halves is rounded up to whole words.
  EmbeddingStore small(HashingConfig::uniform(3, 0, 1), 1, RowFormat::Bf16);
  EXPECT_EQ(small.row_stride(), 1);
  EXPECT_EQ(small.table_words(0), 2u);  // 3 halves -> 2 words
  EmbeddingStore three(h, 3, RowFormat::Bf16);
  EXPECT_EQ(three.row_bytes(), 8u);
  for (size_t i = 0; i < three.table_words(2) * 2; ++i) EXPECT_EQ(three.row_bf16(2, 0)[i], 0u);
}

TEST(EmbeddingRows, FormatAndRoundingNames) {
  EXPECT_EQ(parse_row_format("bf16"), RowFormat::Bf16);
  EXPECT_EQ(parse_row_format("fp32"), RowFormat::Fp32);
  EXPECT_STREQ(row_format_name(RowFormat::Bf16), "bf16");
  EXPECT_EQ(parse_row_rounding("stochastic"), RowRounding::Stochastic);
  EXPECT_EQ(parse_row_rounding("nearest"), RowRounding::Nearest);
  try {
    parse_row_format("fp16");
    ADD_FAILURE() << "fp16 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "embedding_precision expects fp32 or bf16, got 'fp16'");
  }
  try {
    parse_row_rounding("up");
    ADD_FAILURE() << "up accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "embedding_rounding expects nearest or stochastic, got 'up'");
  }
}

TEST(EmbeddingRows, NearestEvenRoundingAndExactRoundTrip) {
  // Every finite BF16 widens and rounds back to itself.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0) continue;  // NaN
    ASSERT_EQ(float_to_bf16_nearest(bf16_to_float(uint16_t(h))), h) << h;
  }
  const auto bits = [](float f) { return std::bit_cast<uint32_t>(f); };
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(float_to_bf16_nearest(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie, even below
  EXPECT_EQ(float_to_bf16_nearest(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie, even above
  EXPECT_EQ(float_to_bf16_nearest(std::bit_cast<float>(0x3F808001u)), 0x3F81);  // just above the tie
  EXPECT_EQ(float_to_bf16_nearest(std::bit_cast<float>(0x3F807FFFu)), 0x3F80);  // just below
  EXPECT_EQ(float_to_bf16_nearest(-1.0f), 0xBF80);
  EXPECT_EQ(float_to_bf16_nearest(INFINITY), 0x7F80);
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16_nearest(NAN))));
  EXPECT_EQ(bits(bf16_to_float(float_to_bf16_nearest(0.1f))), 0x3DCD0000u);
}

TEST(EmbeddingRows, StochasticRoundingIsWithinOneUnitAndUnbiased) {
  const float x = std::bit_cast<float>(0x3F80C000u);  // 3/4 of the way from 0x3F80 to 0x3F81
  EXPECT_EQ(float_to_bf16_stochastic(x, 0), 0x3F80);
  EXPECT_EQ(float_to_bf16_stochastic(x, 0x3FFF), 0x3F80);
  EXPECT_EQ(float_to_bf16_stochastic(x, 0x4000), 0x3F81);
  EXPECT_EQ(float_to_bf16_stochastic(x, 0xFFFF), 0x3F81);
  EXPECT_EQ(float_to_bf16_stochastic(-x, 0x4000), 0xBF81);  // magnitude rounds the same way
  EXPECT_EQ(float_to_bf16_stochastic(1.0f, 0xFFFF), 0x3F80);  // exact values never move
  std::mt19937 rng(7);
  double sum = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) sum += bf16_to_float(float_to_bf16_stochastic(x, rng()));
  EXPECT_NEAR(sum / n, double(x), 2e-5);  // one unit is 2^-7 = 0.0078; nearest would be off by 0.002
}

struct Pair {
  ModelConfig config;
  Model model{config};
  AlignedFloatBuffer dense{model.layout().total_floats}, state{model.layout().total_floats};
  AlignedFloatBuffer dense32{model.layout().total_floats}, state32{model.layout().total_floats};
  EmbeddingStore bf16{config.hashing, config.embedding_dim, RowFormat::Bf16};
  EmbeddingStore fp32{config.hashing, config.embedding_dim};
  // bf16 initialized from the seed; fp32 holds exactly its values (widened); equal accumulators.
  explicit Pair(const FeatureSchema& schema)
      : config(ModelConfig::preset("small", HashingConfig::uniform(30, 0, schema.table_count()), schema)) {
    model.init_dense(dense.data(), 1);
    model.init_embeddings(bf16, 1);
    std::memcpy(dense32.data(), dense.data(), dense.size() * sizeof(float));
    for (int t = 0; t < bf16.tables(); ++t) {
      for (uint32_t r = 0; r < bf16.rows(t); ++r) {
        for (int k = 0; k < bf16.row_stride(); ++k) fp32.row(t, r)[k] = bf16_to_float(bf16.row_bf16(t, r)[k]);
        bf16.accumulator(t)[r] = fp32.accumulator(t)[r] = 0.01f * float(r % 5);
      }
    }
  }
};

class EmbeddingRowsBySchema : public ::testing::TestWithParam<bool> {
 protected:
  FeatureSchema schema() const { return GetParam() ? test::mixed_schema() : FeatureSchema::criteo(); }
};

// The BF16 rows of init_embeddings are the fp32 rows' values rounded to nearest.
TEST(EmbeddingRows, InitIsTheFp32InitRounded) {
  const ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(30));
  const Model model(config);
  EmbeddingStore a(config.hashing, config.embedding_dim), b(config.hashing, config.embedding_dim, RowFormat::Bf16);
  model.init_embeddings(a, 3);
  model.init_embeddings(b, 3);
  for (int t = 0; t < a.tables(); ++t) {
    for (uint32_t r = 0; r < a.rows(t); ++r) {
      for (int k = 0; k < a.row_stride(); ++k) ASSERT_EQ(b.row_bf16(t, r)[k], float_to_bf16_nearest(a.row(t, r)[k]));
    }
  }
}

// The gather widens exactly: logits from bf16 rows equal those from fp32 rows of the same values.
TEST_P(EmbeddingRowsBySchema, GatherEqualsFp32RowsOfTheSameValues) {
  Pair p(schema());
  const test::Batch batch = test::random_batch(40, p.config.schema, p.config.hashing, 11, 6);
  ModelWorkspace w(p.model, 16);
  std::vector<float> a(40), b(40);
  w.predict_logits(batch.view(), p.dense.data(), p.bf16, a.data());
  w.predict_logits(batch.view(), p.dense.data(), p.fp32, b.data());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;
}

// Row-wise Adagrad on bf16 rows (nearest) = the fp32 update of the same values, rounded to
// nearest-even once; the accumulators and dense parameters are equal.
TEST_P(EmbeddingRowsBySchema, NearestUpdateIsTheFp32UpdateRounded) {
  Pair p(schema());
  p.bf16.set_rounding(RowRounding::Nearest);
  const test::Batch batch = test::random_batch(16, p.config.schema, p.config.hashing, 2, 6);
  const test::Batch next = test::random_batch(16, p.config.schema, p.config.hashing, 3, 6);
  ModelWorkspace w(p.model, 16);
  OptimizerConfig opt;
  opt.emb_lr = 0.3f;  // updates large enough to move BF16 values
  const float la = w.train_step(batch.view(), p.dense.data(), p.state.data(), p.bf16, opt, next.view());
  const float lb = w.train_step(batch.view(), p.dense32.data(), p.state32.data(), p.fp32, opt, next.view());
  EXPECT_EQ(la, lb);
  for (size_t i = 0; i < p.dense.size(); ++i) ASSERT_EQ(p.dense[i], p.dense32[i]) << i;
  size_t moved = 0;
  for (int t = 0; t < p.bf16.tables(); ++t) {
    for (uint32_t r = 0; r < p.bf16.rows(t); ++r) {
      ASSERT_EQ(p.bf16.accumulator(t)[r], p.fp32.accumulator(t)[r]);
      for (int k = 0; k < p.bf16.row_stride(); ++k) {
        const uint16_t want = float_to_bf16_nearest(p.fp32.row(t, r)[k]);
        ASSERT_EQ(p.bf16.row_bf16(t, r)[k], want) << "table " << t << " row " << r << " k " << k;
      }
    }
  }
  // Something did move: some rows differ from their starting values.
  Pair q(schema());
  for (int t = 0; t < p.bf16.tables(); ++t) {
    for (uint32_t r = 0; r < p.bf16.rows(t); ++r) moved += p.bf16.row_bf16(t, r)[0] != q.bf16.row_bf16(t, r)[0];
  }
  EXPECT_GT(moved, 10u);
}

// Stochastic: each new value is the fp32 result truncated or one unit up in magnitude; not
// always the nearest; and the same state and batch give the same halves (deterministic).
TEST_P(EmbeddingRowsBySchema, StochasticUpdateIsWithinOneUnitAndRepeats) {
  Pair p(schema()), again(schema());
  const test::Batch batch = test::random_batch(16, p.config.schema, p.config.hashing, 2, 6);
  ModelWorkspace w(p.model, 16);
  OptimizerConfig opt;
  opt.emb_lr = 0.3f;
  ASSERT_EQ(p.bf16.rounding(), RowRounding::Nearest);
  p.bf16.set_rounding(RowRounding::Stochastic);
  again.bf16.set_rounding(RowRounding::Stochastic);
  w.train_step(batch.view(), p.dense.data(), p.state.data(), p.bf16, opt);
  w.train_step(batch.view(), p.dense32.data(), p.state32.data(), p.fp32, opt);
  w.train_step(batch.view(), again.dense.data(), again.state.data(), again.bf16, opt);
  size_t not_nearest = 0, inexact = 0;
  for (int t = 0; t < p.bf16.tables(); ++t) {
    for (uint32_t r = 0; r < p.bf16.rows(t); ++r) {
      for (int k = 0; k < p.bf16.row_stride(); ++k) {
        const float x = p.fp32.row(t, r)[k];
        const uint16_t truncated = uint16_t(std::bit_cast<uint32_t>(x) >> 16);
        const uint16_t got = p.bf16.row_bf16(t, r)[k];
        ASSERT_TRUE(got == truncated || got == truncated + 1) << t << " " << r << " " << k;
        ASSERT_EQ(got, again.bf16.row_bf16(t, r)[k]);
        if (bf16_to_float(truncated) != x) ++inexact;
        if (got != float_to_bf16_nearest(x)) ++not_nearest;
      }
    }
  }
  EXPECT_GT(inexact, 50u);
  EXPECT_GT(not_nearest, inexact / 10);  // about a third of inexact values round away from nearest
  EXPECT_LT(not_nearest, inexact * 2 / 3);
}

INSTANTIATE_TEST_SUITE_P(Schemas, EmbeddingRowsBySchema, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "MultiHot" : "Criteo"; });

// named_parameters delivers a bf16 table as exact fp32 values (an owned, packed copy).
TEST(EmbeddingRows, NamedParametersWidenBf16Tables) {
  Pair p(FeatureSchema::criteo());
  const std::vector<NamedTensor> params = named_parameters(p.model, p.dense.data(), p.bf16);
  int seen = 0;
  for (const NamedTensor& n : params) {
    if (n.name.rfind("embedding.", 0) != 0) continue;
    const int t = std::stoi(n.name.substr(10));
    ASSERT_NE(n.owned, nullptr);
    EXPECT_EQ(n.row_stride, p.config.embedding_dim);
    const std::vector<float> packed = n.packed();
    for (uint32_t r = 0; r < p.bf16.rows(t); ++r) {
      for (int k = 0; k < p.config.embedding_dim; ++k) {
        ASSERT_EQ(packed[r * size_t(p.config.embedding_dim) + size_t(k)], p.fp32.row(t, r)[k]);
      }
    }
    ++seen;
  }
  EXPECT_EQ(seen, p.bf16.tables());
}

}  // namespace
}  // namespace shadowsync
