// Whole-network checks on the tiny model (dot, cat and dcn full / low rank) of several schemas (Criteo's; one with
// multi-hot lists pooled by sum and by mean, with empty lists and ids repeated within a list and
// across rows; one without numeric columns; one without one-hot columns): loss and logits against
// the naive double reference, and every dense parameter's and every touched embedding entry's
// gradient against central finite differences of the reference loss.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tuple>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

void expect_close(double analytic, double numeric, const std::string& what) {
  EXPECT_NEAR(analytic, numeric, 2e-3 * std::max(std::fabs(analytic), std::fabs(numeric)) + 2e-6) << what;
}

enum class SchemaCase { Criteo, MultiHot, NoNumeric, NoOneHot };

std::string case_name(SchemaCase c) {
  switch (c) {
    case SchemaCase::Criteo: return "Criteo";
    case SchemaCase::MultiHot: return "MultiHot";
    case SchemaCase::NoNumeric: return "NoNumeric";
    case SchemaCase::NoOneHot: return "NoOneHot";
  }
  return "";
}

FeatureSchema schema_of(SchemaCase c) {
  switch (c) {
    case SchemaCase::Criteo: return FeatureSchema::criteo();
    case SchemaCase::MultiHot: return test::mixed_schema();
    case SchemaCase::NoNumeric: return test::mixed_schema(false, true, true);
    case SchemaCase::NoOneHot: return test::mixed_schema(true, false, true);
  }
  return {};
}

// The tiny preset of the case's schema with 5 rows per table.
ModelConfig tiny_config(SchemaCase c) {
  const FeatureSchema schema = schema_of(c);
  return ModelConfig::preset("tiny", HashingConfig::uniform(5, 0, schema.table_count()), schema);
}

// 6 random examples (5 rows per table: rows repeat across examples); with multi-hot features the
// lists are set to hold each case the gradient must get right: a repeated id within one list
// (sum and mean), the same id in several rows, empty lists, a list of one id.
test::Batch gradient_batch(const ModelConfig& config) {
  test::Batch batch = test::random_batch(6, config.schema, config.hashing, 11);
  if (batch.widths.multi_hot == 2) {
    batch.list(0, 0) = {2, 2, 3};
    batch.list(1, 0) = {};
    batch.list(2, 0) = {2};
    batch.list(0, 1) = {4, 4};
    batch.list(1, 1) = {};
    batch.list(3, 1) = {4, 1, 4};
    batch.pack();
  }
  return batch;
}

// Loss, every dense gradient and every touched embedding row's gradient of `config`'s model on
// gradient_batch against the reference and its central finite differences (dcn cross layers'
// biases, 0 after init, are set to nonzero values first).
void check_gradients(const ModelConfig& config) {
  const Model model(config);
  const DenseLayout& layout = model.layout();
  AlignedFloatBuffer dense(layout.total_floats);
  model.init_dense(dense.data(), 7);
  for (const auto& C : layout.cross) {  // torchrec's init leaves them 0: give the bias path a value
    for (int i = 0; i < C.dim; ++i) dense[C.bias_offset + size_t(i)] = 0.1f * float((i % 7) - 3);
  }
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 7);
  // Larger embeddings than the DLRM init so that the interaction terms matter in the loss.
  for (int t = 0; t < store.tables(); ++t) {
    for (size_t i = 0; i < store.table_floats(t); ++i) store.table_data(t)[i] *= 2.0f;
  }
  // 5 rows per table and 6 examples: some rows repeat within the batch (summed gradients).
  const test::Batch batch = gradient_batch(config);
  ModelWorkspace workspace(model, 8);
  AlignedFloatBuffer grad(layout.total_floats);
  std::vector<SparseRowGrad> emb_grads;
  const float loss = workspace.loss_and_gradients(batch.view(), dense.data(), store, grad.data(), &emb_grads);

  test::RefParams p = test::to_ref(dense.data(), layout.total_floats, store);
  const double ref = test::ref_loss(config, layout, p, batch.view());
  EXPECT_NEAR(loss, ref, 1e-5 * std::fabs(ref) + 1e-6);

  const double h = 1e-6;
  auto numeric = [&](double& param) {
    const double saved = param;
    param = saved + h;
    const double up = test::ref_loss(config, layout, p, batch.view());
    param = saved - h;
    const double down = test::ref_loss(config, layout, p, batch.view());
    param = saved;
    return (up - down) / (2 * h);
  };
  auto check_layer = [&](const DenseLayout::Layer& L, const std::string& name) {
    for (size_t i = 0; i < size_t(L.in) * size_t(L.out); ++i) {
      expect_close(grad[L.weight_offset + i], numeric(p.dense[L.weight_offset + i]), name + " weight " + std::to_string(i));
    }
    for (int i = 0; i < L.out; ++i) {
      expect_close(grad[L.bias_offset + size_t(i)], numeric(p.dense[L.bias_offset + size_t(i)]), name + " bias " + std::to_string(i));
    }
  };
  for (size_t l = 0; l < layout.bottom.size(); ++l) check_layer(layout.bottom[l], "bottom " + std::to_string(l));
  for (size_t l = 0; l < layout.cross.size(); ++l) {
    const auto& C = layout.cross[l];
    const std::string name = "cross " + std::to_string(l);
    auto check_range = [&](size_t offset, size_t n, const std::string& what) {
      for (size_t i = 0; i < n; ++i) expect_close(grad[offset + i], numeric(p.dense[offset + i]), name + what + std::to_string(i));
    };
    const size_t D = size_t(C.dim), r = size_t(C.rank);
    if (r == 0) {
      check_range(C.weight_offset, D * D, " weight ");
    } else {
      check_range(C.v_offset, r * D, " v ");
      check_range(C.u_offset, D * r, " u ");
    }
    check_range(C.bias_offset, D, " bias ");
  }
  for (size_t l = 0; l < layout.top.size(); ++l) check_layer(layout.top[l], "top " + std::to_string(l));
  // Padding between tensors has zero gradient.
  for (size_t l = 0; l + 1 < layout.top.size(); ++l) {
    const auto& L = layout.top[l];
    for (size_t i = L.weight_offset + size_t(L.in) * L.out; i < L.bias_offset; ++i) EXPECT_EQ(grad[i], 0.0f);
  }

  // Embedding gradients: one entry per distinct (table, row), sorted, matching FD.
  std::set<std::pair<int, uint32_t>> touched;
  const FeatureWidths w = batch.widths;
  for (size_t r = 0; r < batch.labels.size(); ++r) {
    for (int t = 0; t < w.sparse; ++t) touched.insert({t, batch.sparse[r * size_t(w.sparse) + size_t(t)]});
    for (int m = 0; m < w.multi_hot; ++m) {
      for (uint32_t id : batch.lists[r * size_t(w.multi_hot) + size_t(m)]) touched.insert({w.sparse + m, id});
    }
  }
  ASSERT_EQ(emb_grads.size(), touched.size());
  for (size_t e = 0; e < emb_grads.size(); ++e) {
    const SparseRowGrad& g = emb_grads[e];
    if (e > 0) {
      const auto& prev = emb_grads[e - 1];
      EXPECT_TRUE(prev.table < g.table || (prev.table == g.table && prev.row < g.row));
    }
    EXPECT_TRUE(touched.count({g.table, g.row})) << "table " << g.table << " row " << g.row;
    ASSERT_EQ(g.grad.size(), size_t(config.embedding_dim));
    for (int k = 0; k < config.embedding_dim; ++k) {
      expect_close(g.grad[size_t(k)], numeric(p.tables[size_t(g.table)][g.row * size_t(config.embedding_dim) + size_t(k)]),
                   "table " + std::to_string(g.table) + " row " + std::to_string(g.row));
    }
  }
}

class GradientTest : public ::testing::TestWithParam<std::tuple<SchemaCase, Interaction>> {};

TEST_P(GradientTest, TinyModelMatchesFiniteDifferences) {
  ModelConfig config = tiny_config(std::get<0>(GetParam()));
  config.interaction = std::get<1>(GetParam());
  check_gradients(config);
}

// DCN-v2: the tiny model with 2 cross layers, full rank or rank 3, over schemas with a bottom
// MLP (Criteo's, the multi-hot one) and without (multi-hot lists, no numeric column).
class DcnGradientTest : public ::testing::TestWithParam<std::tuple<SchemaCase, int>> {};

TEST_P(DcnGradientTest, TinyDcnModelMatchesFiniteDifferences) {
  ModelConfig config = tiny_config(std::get<0>(GetParam()));
  config.interaction = Interaction::Dcn;
  config.cross_layers = 2;
  config.cross_rank = std::get<1>(GetParam());
  config.validate("test");
  ASSERT_EQ(DenseLayout::for_config(config).cross.size(), 2u);
  check_gradients(config);
}

INSTANTIATE_TEST_SUITE_P(Schemas, DcnGradientTest,
                         ::testing::Combine(::testing::Values(SchemaCase::Criteo, SchemaCase::MultiHot,
                                                              SchemaCase::NoNumeric),
                                            ::testing::Values(0, 3)),
                         [](const auto& info) {
                           return case_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == 0 ? "FullRank" : "LowRank");
                         });

INSTANTIATE_TEST_SUITE_P(Schemas, GradientTest,
                         ::testing::Combine(::testing::Values(SchemaCase::Criteo, SchemaCase::MultiHot,
                                                              SchemaCase::NoNumeric, SchemaCase::NoOneHot),
                                            ::testing::Values(Interaction::Dot, Interaction::Cat)),
                         [](const auto& info) {
                           return case_name(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) == Interaction::Dot ? "Dot" : "Cat");
                         });

// A mean-pooled list's rows get the list's gradient divided by its length; a sum-pooled list's
// the whole gradient, once per occurrence: the gradient of an id that appears twice in one list
// of a one-example batch is twice (sum) / 2/3 (mean of 3) the pooled vector's.
TEST(ModelGradient, PooledListsShareTheBagGradient) {
  const ModelConfig config = tiny_config(SchemaCase::NoNumeric);  // tables: site, device, tags (sum), history (mean)
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats);
  model.init_dense(dense.data(), 3);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 3);
  test::Batch batch = test::random_batch(1, config.schema, config.hashing, 2);
  batch.list(0, 0) = {2, 2, 3};
  batch.list(0, 1) = {4, 4, 1};
  batch.pack();
  ModelWorkspace workspace(model, 1);
  AlignedFloatBuffer grad(model.layout().total_floats);
  std::vector<SparseRowGrad> g;
  workspace.loss_and_gradients(batch.view(), dense.data(), store, grad.data(), &g);
  auto find = [&](int table, uint32_t row) -> const std::vector<float>& {
    for (const auto& e : g) {
      if (e.table == table && e.row == row) return e.grad;
    }
    ADD_FAILURE() << "no gradient for table " << table << " row " << row;
    static const std::vector<float> none(size_t(config.embedding_dim), 0.0f);
    return none;
  };
  ASSERT_EQ(g.size(), 2u + 2u + 2u);  // site, device; tags 2 and 3; history 1 and 4
  for (int k = 0; k < config.embedding_dim; ++k) {
    EXPECT_FLOAT_EQ(find(2, 2)[size_t(k)], 2.0f * find(2, 3)[size_t(k)]) << k;
    EXPECT_FLOAT_EQ(find(3, 4)[size_t(k)], 2.0f * find(3, 1)[size_t(k)]) << k;
  }
}

TEST(ModelPredict, LogitsMatchReferenceAcrossChunks) {
  for (const char* preset : {"tiny", "small"}) {
    const ModelConfig config = ModelConfig::preset(preset, HashingConfig::uniform(40));
    const Model model(config);
    AlignedFloatBuffer dense(model.layout().total_floats);
    model.init_dense(dense.data(), 3);
    EmbeddingStore store(config.hashing, config.embedding_dim);
    model.init_embeddings(store, 3);
    const test::Batch batch = test::random_batch(23, config.hashing, 5);
    ModelWorkspace workspace(model, 8);  // 23 rows: chunks of 8, 8 and a tail of 7
    std::vector<float> logits(23);
    workspace.predict_logits(batch.view(), dense.data(), store, logits.data());
    const test::RefParams p = test::to_ref(dense.data(), model.layout().total_floats, store);
    for (size_t r = 0; r < 23; ++r) {
      const double ref = test::ref_logit(config, model.layout(), p, batch.numeric.data() + r * kNumNumeric,
                                         batch.sparse.data() + r * kNumSparse);
      EXPECT_NEAR(logits[r], ref, 1e-4 * std::fabs(ref) + 1e-5) << preset << " row " << r;
    }
  }
}

// Chunks of a multi-hot batch (slices move bag_offsets only) against the reference.
TEST(ModelPredict, MultiHotLogitsMatchReferenceAcrossChunks) {
  for (bool numeric : {true, false}) {
    const FeatureSchema schema = test::mixed_schema(numeric);
    const ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(40, 0, 4), schema);
    const Model model(config);
    AlignedFloatBuffer dense(model.layout().total_floats);
    model.init_dense(dense.data(), 3);
    EmbeddingStore store(config.hashing, config.embedding_dim);
    model.init_embeddings(store, 3);
    const test::Batch batch = test::random_batch(23, schema, config.hashing, 5, 6);
    ModelWorkspace workspace(model, 8);
    std::vector<float> logits(23);
    workspace.predict_logits(batch.view(), dense.data(), store, logits.data());
    const test::RefParams p = test::to_ref(dense.data(), model.layout().total_floats, store);
    for (size_t r = 0; r < 23; ++r) {
      const double ref = test::ref_logit(config, model.layout(), p, batch.view(), r);
      EXPECT_NEAR(logits[r], ref, 1e-4 * std::fabs(ref) + 1e-5) << "numeric " << numeric << " row " << r;
    }
  }
}

}  // namespace
}  // namespace shadowsync
