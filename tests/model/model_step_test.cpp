// train_step against loss_and_gradients plus hand-written SGD / Adagrad / row-wise Adagrad
// updates (Criteo's schema, a multi-hot one, one without numeric columns); initialization
// determinism and statistics; error paths of the workspace.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

struct Fixture {
  ModelConfig config;
  Model model{config};
  AlignedFloatBuffer dense{model.layout().total_floats};
  AlignedFloatBuffer state{model.layout().total_floats};
  EmbeddingStore store{config.hashing, config.embedding_dim};
  explicit Fixture(const FeatureSchema& schema = FeatureSchema::criteo())
      : config(ModelConfig::preset("small", HashingConfig::uniform(30, 0, schema.table_count()), schema)) {
    model.init_dense(dense.data(), 1);
    model.init_embeddings(store, 1);
  }
};

void check_step(DenseOptimizer optimizer, const FeatureSchema& schema = FeatureSchema::criteo()) {
  Fixture f(schema);
  const size_t n = f.model.layout().total_floats;
  for (size_t i = 0; i < n; ++i) f.state[i] = 0.5f;  // nonzero prior Adagrad state
  for (int t = 0; t < f.store.tables(); ++t) f.store.accumulator(t)[3] = 0.25f;
  const test::Batch batch = test::random_batch(16, schema, f.config.hashing, 2, 6);
  ModelWorkspace workspace(f.model, 16);

  AlignedFloatBuffer grad(n);
  std::vector<SparseRowGrad> emb_grads;
  const float expected_loss = workspace.loss_and_gradients(batch.view(), f.dense.data(), f.store, grad.data(), &emb_grads);
  std::vector<float> dense_before(f.dense.data(), f.dense.data() + n);
  std::map<std::pair<int, uint32_t>, std::vector<float>> rows_before;
  for (const auto& g : emb_grads) {
    const float* row = f.store.row(g.table, g.row);
    rows_before[{g.table, g.row}] = std::vector<float>(row, row + f.config.embedding_dim);
  }

  OptimizerConfig opt;
  opt.dense = optimizer;
  opt.lr = 0.03f;
  opt.emb_lr = 0.07f;
  const float loss = workspace.train_step(batch.view(), f.dense.data(), f.state.data(), f.store, opt);
  EXPECT_FLOAT_EQ(loss, expected_loss);

  for (size_t i = 0; i < n; ++i) {
    const double g = grad[i];
    double expected;
    if (optimizer == DenseOptimizer::Sgd) {
      expected = dense_before[i] - opt.lr * g;
    } else {
      const double s = 0.5 + g * g;
      EXPECT_NEAR(f.state[i], s, 1e-6 * s);
      expected = dense_before[i] - opt.lr * g / (std::sqrt(s) + opt.eps);
    }
    ASSERT_NEAR(f.dense[i], expected, 1e-6 * std::fabs(expected) + 1e-7) << "dense " << i;
  }
  const int d = f.config.embedding_dim;
  for (const auto& g : emb_grads) {
    double sumsq = 0;
    for (float v : g.grad) sumsq += double(v) * v;
    const double s = (g.row == 3 ? 0.25 : 0.0) + sumsq / d;
    EXPECT_NEAR(f.store.accumulator(g.table)[g.row], s, 1e-6 * s + 1e-12);
    const auto& before = rows_before[{g.table, g.row}];
    for (int k = 0; k < d; ++k) {
      const double expected = before[size_t(k)] - opt.emb_lr * g.grad[size_t(k)] / (std::sqrt(s) + opt.eps);
      EXPECT_NEAR(f.store.row(g.table, g.row)[k], expected, 1e-6 * std::fabs(expected) + 1e-7);
    }
  }
  // Untouched rows and their accumulators are unchanged.
  int untouched = 0;
  for (int t = 0; t < f.store.tables(); ++t) {
    for (uint32_t r = 0; r < 30; ++r) {
      if (rows_before.count({t, r})) continue;
      ++untouched;
      EXPECT_EQ(f.store.accumulator(t)[r], r == 3 ? 0.25f : 0.0f);
    }
  }
  EXPECT_GT(untouched, 0);
}

TEST(ModelStep, SgdStepEqualsGradientUpdate) { check_step(DenseOptimizer::Sgd); }
TEST(ModelStep, AdagradStepEqualsGradientUpdate) { check_step(DenseOptimizer::Adagrad); }
TEST(ModelStep, MultiHotSgdStepEqualsGradientUpdate) { check_step(DenseOptimizer::Sgd, test::mixed_schema()); }
TEST(ModelStep, MultiHotAdagradStepEqualsGradientUpdate) {
  check_step(DenseOptimizer::Adagrad, test::mixed_schema());
}
TEST(ModelStep, NoNumericAdagradStepEqualsGradientUpdate) {
  check_step(DenseOptimizer::Adagrad, test::mixed_schema(false));
}

// train_step(batch, ..., next) prefetches the next batch's rows (multi-hot lists included) and
// changes no value: the same tables and replica as without a next batch.
TEST(ModelStep, MultiHotPrefetchOfTheNextBatchChangesNothing) {
  Fixture a(test::mixed_schema()), b(test::mixed_schema());
  const test::Batch batch = test::random_batch(16, a.config.schema, a.config.hashing, 4, 6);
  const test::Batch next = test::random_batch(16, a.config.schema, a.config.hashing, 5, 6);
  ModelWorkspace wa(a.model, 16), wb(b.model, 16);
  OptimizerConfig opt;
  const float la = wa.train_step(batch.view(), a.dense.data(), a.state.data(), a.store, opt, next.view());
  const float lb = wb.train_step(batch.view(), b.dense.data(), b.state.data(), b.store, opt);
  EXPECT_EQ(la, lb);
  EXPECT_EQ(std::memcmp(a.dense.data(), b.dense.data(), a.model.layout().total_floats * sizeof(float)), 0);
  for (int t = 0; t < a.store.tables(); ++t) {
    EXPECT_EQ(std::memcmp(a.store.table_data(t), b.store.table_data(t), a.store.table_floats(t) * sizeof(float)), 0);
  }
}

TEST(ModelStep, TrainingLowersTheLossOnAFixedBatch) {
  Fixture f;
  const test::Batch batch = test::random_batch(64, f.config.hashing, 9);
  ModelWorkspace workspace(f.model, 64);
  OptimizerConfig opt;
  const float first = workspace.train_step(batch.view(), f.dense.data(), f.state.data(), f.store, opt);
  float last = first;
  for (int i = 0; i < 50; ++i) last = workspace.train_step(batch.view(), f.dense.data(), f.state.data(), f.store, opt);
  EXPECT_LT(last, 0.5f * first);
}

TEST(ModelInit, SameSeedSameValuesDifferentSeedDifferent) {
  const ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(1000));
  const Model model(config);
  const size_t n = model.layout().total_floats;
  AlignedFloatBuffer a(n), b(n), c(n);
  model.init_dense(a.data(), 42);
  model.init_dense(b.data(), 42);
  model.init_dense(c.data(), 43);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), n * sizeof(float)), 0);
  EmbeddingStore e1(config.hashing, 16), e2(config.hashing, 16), e3(config.hashing, 16);
  model.init_embeddings(e1, 42);
  model.init_embeddings(e2, 42);
  model.init_embeddings(e3, 43);
  for (int t = 0; t < e1.tables(); ++t) {
    EXPECT_EQ(std::memcmp(e1.table_data(t), e2.table_data(t), e1.table_floats(t) * sizeof(float)), 0);
    EXPECT_NE(std::memcmp(e1.table_data(t), e3.table_data(t), e1.table_floats(t) * sizeof(float)), 0);
  }
  EXPECT_NE(std::memcmp(e1.table_data(0), e1.table_data(1), e1.table_floats(0) * sizeof(float)), 0);
}

TEST(ModelInit, DistributionsFollowTheDlrmScheme) {
  const ModelConfig config = ModelConfig::preset("kaggle", HashingConfig::uniform(5000));
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats);
  model.init_dense(dense.data(), 5);
  const auto& L = model.layout().bottom[1];  // 512 -> 256
  double sum = 0, sumsq = 0;
  const size_t n = size_t(L.in) * L.out;
  for (size_t i = 0; i < n; ++i) {
    sum += dense[L.weight_offset + i];
    sumsq += double(dense[L.weight_offset + i]) * dense[L.weight_offset + i];
  }
  const double expected_std = std::sqrt(2.0 / (512 + 256));
  EXPECT_NEAR(sum / n, 0.0, 3 * expected_std / std::sqrt(double(n)));
  EXPECT_NEAR(std::sqrt(sumsq / n), expected_std, 0.02 * expected_std);
  EmbeddingStore store(config.hashing, 16);
  model.init_embeddings(store, 5);
  const double bound = std::sqrt(1.0 / 5000);
  double esumsq = 0;
  for (uint32_t r = 0; r < 5000; ++r) {
    for (int k = 0; k < 16; ++k) {
      const float v = store.row(3, r)[k];
      ASSERT_LE(std::fabs(v), bound);
      esumsq += double(v) * v;
    }
  }
  // U(-a, a) has variance a^2 / 3.
  EXPECT_NEAR(esumsq / (5000 * 16), bound * bound / 3, 0.03 * bound * bound / 3);
}

TEST(ModelErrors, BadBatchesAndStoresAreRejected) {
  Fixture f;
  ModelWorkspace workspace(f.model, 4);
  OptimizerConfig opt;
  test::Batch batch = test::random_batch(5, f.config.hashing, 1);
  EXPECT_THROW(workspace.train_step(batch.view(), f.dense.data(), f.state.data(), f.store, opt), Error);
  batch = test::random_batch(4, f.config.hashing, 1);
  batch.sparse[2 * kNumSparse + 7] = 30;  // table has 30 rows: 0..29
  try {
    workspace.train_step(batch.view(), f.dense.data(), f.state.data(), f.store, opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("C8"), std::string::npos) << e.what();
  }
  batch.sparse[2 * kNumSparse + 7] = 29;
  EXPECT_THROW(workspace.train_step(batch.view(), f.dense.data(), nullptr, f.store, opt), Error);
  EmbeddingStore wrong(f.config.hashing, 8);
  EXPECT_THROW(workspace.train_step(batch.view(), f.dense.data(), f.state.data(), wrong, opt), Error);
  EXPECT_THROW(ModelWorkspace(f.model, 0), Error);
  EXPECT_EQ(workspace.train_step(batch.view().slice(0, 0), f.dense.data(), f.state.data(), f.store, opt), 0.0f);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModelErrors, DataOfOtherWidthsAndBadListsAreRejected) {
  Fixture f(test::mixed_schema());  // numeric 3, categorical 2, multi_hot 2; 30 rows per table
  ModelWorkspace workspace(f.model, 8);
  OptimizerConfig opt;
  // Criteo data for a multi-hot model, and the reverse: both widths named.
  const test::Batch criteo = test::random_batch(4, HashingConfig::uniform(30), 1);
  EXPECT_EQ(error_of([&] { workspace.train_step(criteo.view(), f.dense.data(), f.state.data(), f.store, opt); }),
            "model: train_step got data of widths numeric 13, categorical 26, multi_hot 0 but the model's "
            "schema has numeric 3, categorical 2, multi_hot 2");
  std::vector<float> logits(4);
  EXPECT_EQ(error_of([&] { workspace.predict_logits(criteo.view(), f.dense.data(), f.store, logits.data()); }),
            "model: predict_logits got data of widths numeric 13, categorical 26, multi_hot 0 but the model's "
            "schema has numeric 3, categorical 2, multi_hot 2");
  Fixture c;
  ModelWorkspace criteo_workspace(c.model, 8);
  test::Batch mixed = test::random_batch(4, f.config.schema, f.config.hashing, 1, 6);
  AlignedFloatBuffer grad(c.model.layout().total_floats);
  EXPECT_EQ(error_of([&] { criteo_workspace.loss_and_gradients(mixed.view(), c.dense.data(), c.store, grad.data(), nullptr); }),
            "model: loss_and_gradients got data of widths numeric 3, categorical 2, multi_hot 2 but the model's "
            "schema has numeric 13, categorical 26, multi_hot 0");
  // An id outside its multi-hot table names the column.
  mixed.list(2, 1) = {1, 30};
  mixed.pack();
  EXPECT_EQ(error_of([&] { workspace.train_step(mixed.view(), f.dense.data(), f.state.data(), f.store, opt); }),
            "model: example 2 of the batch: feature history has row 30 but its table has 30 rows (data hashed "
            "for another model?)");
  mixed.list(2, 1) = {1, 29};
  mixed.list(1, 1) = {5, 6};
  mixed.pack();
  std::vector<uint64_t> offsets = mixed.bag_offsets;
  DataView bad = mixed.view();
  std::swap(offsets[3], offsets[4]);  // row 1's lists end before they begin
  bad.bag_offsets = offsets.data();
  EXPECT_EQ(error_of([&] { workspace.train_step(bad, f.dense.data(), f.state.data(), f.store, opt); }),
            "model: example 1 of the batch: feature history: its list ends (" + std::to_string(offsets[4]) +
                ") before it begins (" + std::to_string(offsets[3]) + "); bag_offsets must not decrease");
  DataView no_lists = mixed.view();
  no_lists.bag_offsets = nullptr;
  EXPECT_EQ(error_of([&] { workspace.train_step(no_lists, f.dense.data(), f.state.data(), f.store, opt); }),
            "model: train_step got data without multi-hot lists (bag_offsets) for a schema with 2 multi_hot columns");
  // The valid batch trains.
  EXPECT_GT(workspace.train_step(mixed.view(), f.dense.data(), f.state.data(), f.store, opt), 0.0f);
}

}  // namespace
}  // namespace shadowsync
