// The step's kernel options give the same training: prefetching the next batch changes nothing,
// and BF16 GEMM inputs train like fp32 within BF16 rounding; and the matmul cache (the BF16
// GEMMs' kernel) against a plain loop, transposes and leading dimensions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "model/matmul_cache.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

struct Trained {
  std::vector<float> dense, state, rows;
  std::vector<float> losses;
};

// `steps` steps from the same initialization with `optimizer` and `precision`;
// returns the dense weights, their state, the first rows of every table and the losses.
Trained train(const char* preset, DenseOptimizer optimizer, int steps, Precision precision = Precision::Fp32) {
  const ModelConfig config = ModelConfig::preset(preset, HashingConfig::uniform(40));
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats), state(model.layout().total_floats);
  std::fill(state.data(), state.data() + model.layout().total_floats, 0.0f);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_dense(dense.data(), 5);
  model.init_embeddings(store, 5);
  ModelWorkspace workspace(model, 48, precision);
  OptimizerConfig opt;
  opt.dense = optimizer;
  Trained out;
  for (int step = 0; step < steps; ++step) {
    const test::Batch batch = test::random_batch(48, config.hashing, 10 + step);
    out.losses.push_back(workspace.train_step(batch.view(), dense.data(), state.data(), store, opt));
  }
  out.dense.assign(dense.data(), dense.data() + model.layout().total_floats);
  out.state.assign(state.data(), state.data() + model.layout().total_floats);
  for (int t = 0; t < kNumSparse; ++t) {
    for (uint32_t r = 0; r < 40; ++r) {
      const float* row = store.row(t, r);
      out.rows.insert(out.rows.end(), row, row + config.embedding_dim);
    }
  }
  return out;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double rel, const char* what,
                  double abs = 1e-6) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(a[i], b[i], rel * std::fabs(double(b[i])) + abs) << what << " " << i;
  }
}

// train_step with the next batch to prefetch gives bit-identical results, and a next batch with
// indices outside the tables (never checked: prefetches do not fault) changes nothing either.
TEST(PrefetchNextBatch, ChangesNoValue) {
  const ModelConfig config = ModelConfig::preset("small", HashingConfig::uniform(40));
  const Model model(config);
  const size_t n = model.layout().total_floats;
  struct Replica {
    Replica(const ModelConfig& c, size_t floats) : dense(floats), state(floats), store(c.hashing, c.embedding_dim) {}
    AlignedFloatBuffer dense, state;
    EmbeddingStore store;
  };
  auto make = [&] {
    auto r = std::make_unique<Replica>(config, n);
    std::fill(r->state.data(), r->state.data() + n, 0.0f);
    model.init_dense(r->dense.data(), 3);
    model.init_embeddings(r->store, 3);
    return r;
  };
  auto plain = make(), prefetching = make();
  ModelWorkspace a(model, 32), b(model, 32);
  const OptimizerConfig opt;
  test::Batch wild = test::random_batch(32, config.hashing, 99);
  for (uint32_t& index : wild.sparse) index += 1000000;  // outside every table
  for (int step = 0; step < 3; ++step) {
    const test::Batch batch = test::random_batch(32, config.hashing, 20 + step);
    const test::Batch next = step == 1 ? wild : test::random_batch(32, config.hashing, 21 + step);
    const float loss_a = a.train_step(batch.view(), plain->dense.data(), plain->state.data(), plain->store, opt);
    const float loss_b = b.train_step(batch.view(), prefetching->dense.data(), prefetching->state.data(),
                                      prefetching->store, opt, next.view());
    EXPECT_EQ(loss_a, loss_b);
  }
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(plain->dense[i], prefetching->dense[i]) << i;
  for (int t = 0; t < kNumSparse; ++t) {
    for (size_t i = 0; i < plain->store.table_floats(t); ++i) {
      ASSERT_EQ(plain->store.table_data(t)[i], prefetching->store.table_data(t)[i]) << t << " " << i;
    }
  }
}

// C = op(A) op(B) by loops, row-major with leading dimensions.
std::vector<float> reference_gemm(char ta, char tb, int m, int n, int k, const std::vector<float>& a, int lda,
                                  const std::vector<float>& b, int ldb, int ldc) {
  std::vector<float> c(size_t(m) * size_t(ldc), -7.0f);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const float av = ta == 'T' ? a[size_t(p) * size_t(lda) + size_t(i)] : a[size_t(i) * size_t(lda) + size_t(p)];
        const float bv = tb == 'T' ? b[size_t(j) * size_t(ldb) + size_t(p)] : b[size_t(p) * size_t(ldb) + size_t(j)];
        sum += double(av) * bv;
      }
      c[size_t(i) * size_t(ldc) + size_t(j)] = float(sum);
    }
  }
  return c;
}

TEST(MatmulCache, MatchesLoopsForEveryTransposeAndLeadingDimension) {
  const int m = 7, n = 5, k = 9;
  for (char ta : {'N', 'T'}) {
    for (char tb : {'N', 'T'}) {
      const int lda = (ta == 'T' ? m : k) + 3, ldb = (tb == 'T' ? k : n) + 2, ldc = n + 4;
      std::vector<float> a(size_t(ta == 'T' ? k : m) * size_t(lda)), b(size_t(tb == 'T' ? n : k) * size_t(ldb));
      for (size_t i = 0; i < a.size(); ++i) a[i] = float(int(i % 13) - 6) * 0.25f;
      for (size_t i = 0; i < b.size(); ++i) b[i] = float(int(i % 11) - 5) * 0.5f;
      const std::vector<float> expected = reference_gemm(ta, tb, m, n, k, a, lda, b, ldb, ldc);
      for (int call = 0; call < 2; ++call) {  // the second call reuses the cached primitive
        std::vector<float> c(size_t(m) * size_t(ldc), -7.0f);
        cached_matmul(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc);
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < ldc; ++j) {
            const size_t at = size_t(i) * size_t(ldc) + size_t(j);
            // Columns past n (the leading-dimension gap) are left as they were.
            EXPECT_NEAR(c[at], expected[at], 1e-4) << ta << tb << " call " << call << " at " << i << "," << j;
          }
        }
      }
    }
  }
}

// BF16 GEMM inputs (every GEMM): a step's loss within BF16 rounding of fp32's, and the same
// training direction (the losses of 3 SGD steps agree to 1 %). Runs where the CPU has
// AVX512_BF16 or AMX; skipped with the reason elsewhere.
TEST(Bf16Gemms, TrainLikeFp32WithinBf16Rounding) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const Trained fp32 = train("kaggle", DenseOptimizer::Sgd, 3);
  const Trained bf16 = train("kaggle", DenseOptimizer::Sgd, 3, Precision::Bf16);
  expect_close(bf16.losses, fp32.losses, 1e-2, "loss", 0.0);
  // Not bit-equal: the inputs really were rounded.
  EXPECT_NE(bf16.dense, fp32.dense);
}

TEST(MatmulCache, Bf16MatchesLoopsWithinBf16Rounding) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const int m = 6, n = 4, k = 33;
  std::vector<float> a(size_t(m) * k), b(size_t(n) * k);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 1.0f + float(i % 7) * 0.1234567f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = 0.5f - float(i % 5) * 0.0987654f;
  const std::vector<float> expected = reference_gemm('N', 'T', m, n, k, a, k, b, k, n);
  std::vector<float> c(size_t(m) * n);
  cached_matmul('N', 'T', m, n, k, a.data(), k, b.data(), k, c.data(), n, true);
  double max_rel = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    // BF16 keeps 8 significant bits: each product is off by up to about 2^-8 relative.
    EXPECT_NEAR(c[i], expected[i], 1e-2 * std::fabs(expected[i]) + 1e-2) << i;
    max_rel = std::max(max_rel, std::fabs(double(c[i]) - expected[i]) / std::fabs(double(expected[i])));
  }
  EXPECT_GT(max_rel, 1e-7) << "the inputs were not rounded to BF16";
}

}  // namespace
}  // namespace shadowsync
