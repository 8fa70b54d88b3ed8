// Whole-network checks on the tiny model (dot and cat): loss and logits against the naive double
// reference, and every dense parameter's and every touched embedding entry's gradient against
// central finite differences of the reference loss.
#include <gtest/gtest.h>

#include <cmath>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

void expect_close(double analytic, double numeric, const std::string& what) {
  EXPECT_NEAR(analytic, numeric, 2e-3 * std::max(std::fabs(analytic), std::fabs(numeric)) + 2e-6) << what;
}

class GradientTest : public ::testing::TestWithParam<Interaction> {};

TEST_P(GradientTest, TinyModelMatchesFiniteDifferences) {
  ModelConfig config = ModelConfig::preset("tiny", HashingConfig::uniform(5));
  config.interaction = GetParam();
  const Model model(config);
  const DenseLayout& layout = model.layout();
  AlignedFloatBuffer dense(layout.total_floats);
  model.init_dense(dense.data(), 7);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 7);
  // Larger embeddings than the DLRM init so that the interaction terms matter in the loss.
  for (int t = 0; t < kNumSparse; ++t) {
    for (size_t i = 0; i < store.table_floats(t); ++i) store.table_data(t)[i] *= 2.0f;
  }
  // 5 rows per table and 6 examples: some rows repeat within the batch (summed gradients).
  const test::Batch batch = test::random_batch(6, config.hashing, 11);
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
  for (size_t l = 0; l < layout.top.size(); ++l) check_layer(layout.top[l], "top " + std::to_string(l));
  // Padding between tensors has zero gradient.
  for (size_t l = 0; l + 1 < layout.top.size(); ++l) {
    const auto& L = layout.top[l];
    for (size_t i = L.weight_offset + size_t(L.in) * L.out; i < L.bias_offset; ++i) EXPECT_EQ(grad[i], 0.0f);
  }

  // Embedding gradients: one entry per distinct (table, row), sorted, matching FD.
  size_t expected_entries = 0;
  for (int t = 0; t < kNumSparse; ++t) {
    std::vector<bool> seen(config.hashing.rows[t], false);
    for (size_t r = 0; r < batch.labels.size(); ++r) seen[batch.sparse[r * kNumSparse + t]] = true;
    for (bool s : seen) expected_entries += s ? 1 : 0;
  }
  ASSERT_EQ(emb_grads.size(), expected_entries);
  for (size_t e = 0; e < emb_grads.size(); ++e) {
    const SparseRowGrad& g = emb_grads[e];
    if (e > 0) {
      const auto& prev = emb_grads[e - 1];
      EXPECT_TRUE(prev.table < g.table || (prev.table == g.table && prev.row < g.row));
    }
    ASSERT_EQ(g.grad.size(), size_t(config.embedding_dim));
    for (int k = 0; k < config.embedding_dim; ++k) {
      expect_close(g.grad[size_t(k)], numeric(p.tables[size_t(g.table)][g.row * size_t(config.embedding_dim) + size_t(k)]),
                   "table " + std::to_string(g.table) + " row " + std::to_string(g.row));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Interactions, GradientTest, ::testing::Values(Interaction::Dot, Interaction::Cat));

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

}  // namespace
}  // namespace shadowsync
