// One worker, one pass over a planted-teacher dataset: the model's normalized entropy (NE, log
// loss over the entropy of the base rate) on held-out data must fall well below 1 and come
// within a stated margin of the teacher's own NE (the best any model can do).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

struct Teacher {
  std::vector<double> dense_w;
  std::vector<std::vector<double>> table_w;  // a scalar effect per (table, row)
  std::vector<double> u, v;                  // interaction between tables 0 and 1
  double bias = -1.0;
  Teacher(const HashingConfig& h, std::mt19937_64& rng) {
    std::normal_distribution<double> n(0.0, 1.0);
    for (int j = 0; j < kNumNumeric; ++j) dense_w.push_back(0.4 * n(rng));
    for (int t = 0; t < kNumSparse; ++t) {
      std::vector<double> w(h.rows[t]);
      for (double& x : w) x = (t < 6 ? 0.6 : 0.15) * n(rng);
      table_w.push_back(w);
    }
    for (uint32_t r = 0; r < h.rows[0]; ++r) u.push_back(n(rng));
    for (uint32_t r = 0; r < h.rows[1]; ++r) v.push_back(n(rng));
  }
  double logit(const float* x, const uint32_t* s) const {
    double z = bias;
    for (int j = 0; j < kNumNumeric; ++j) z += dense_w[size_t(j)] * (x[j] - 1.0);
    for (int t = 0; t < kNumSparse; ++t) z += table_w[size_t(t)][s[t]];
    return z + 0.8 * u[s[0]] * v[s[1]];
  }
};

test::Batch make_data(const Teacher& teacher, const HashingConfig& h, size_t rows, std::mt19937_64& rng,
                      std::vector<double>* probabilities) {
  std::exponential_distribution<double> count(0.3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  test::Batch b;
  for (size_t r = 0; r < rows; ++r) {
    for (int j = 0; j < kNumNumeric; ++j) b.numeric.push_back(float(std::log1p(std::floor(count(rng)))));
    for (int t = 0; t < kNumSparse; ++t) b.sparse.push_back(u(rng) < 0.05 ? 0u : uint32_t(1 + rng() % (h.rows[t] - 1)));
    const double p = 1.0 / (1.0 + std::exp(-teacher.logit(&b.numeric[r * kNumNumeric], &b.sparse[r * kNumSparse])));
    probabilities->push_back(p);
    b.labels.push_back(u(rng) < p ? 1.0f : 0.0f);
  }
  return b;
}

double normalized_entropy(const std::vector<double>& p, const std::vector<float>& labels) {
  double loss = 0, positives = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = std::clamp(p[i], 1e-12, 1 - 1e-12);
    loss -= labels[i] > 0.5f ? std::log(q) : std::log(1 - q);
    positives += labels[i];
  }
  const double rate = positives / double(p.size());
  const double entropy = -(rate * std::log(rate) + (1 - rate) * std::log(1 - rate));
  return loss / double(p.size()) / entropy;
}

struct OnePass {
  double teacher_ne;  // the planted teacher's NE on the held-out rows (the floor)
  double model_ne;    // the trained model's, evaluated in fp32 as the trainer does
};

// One pass of the small model over 60k rows of the planted-teacher data with `precision` from
// init `seed`; NEs on 10k held-out rows.
// rows/rounding: the tables' row format; untrained: no training steps (the NE of the init).
OnePass one_pass(Precision precision, uint64_t seed, RowFormat rows = RowFormat::Fp32,
                 RowRounding rounding = RowRounding::Nearest, bool untrained = false) {
  const HashingConfig h = HashingConfig::uniform(20);
  std::mt19937_64 rng(2024);
  const Teacher teacher(h, rng);
  std::vector<double> train_p, test_p;
  const test::Batch train = make_data(teacher, h, 60000, rng, &train_p);
  const test::Batch held_out = make_data(teacher, h, 10000, rng, &test_p);
  const double teacher_ne = normalized_entropy(test_p, held_out.labels);
  const ModelConfig config = ModelConfig::preset("small", h);
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats), state(model.layout().total_floats);
  model.init_dense(dense.data(), seed);
  EmbeddingStore store(h, config.embedding_dim, rows);
  store.set_rounding(rounding);
  model.init_embeddings(store, seed);
  const int batch = 64;
  ModelWorkspace workspace(model, batch, precision), evaluator(model, batch);
  const OptimizerConfig opt;
  const DataView all = train.view();
  for (size_t begin = 0; !untrained && begin < all.rows; begin += batch) {
    workspace.train_step(all.slice(begin, std::min(all.rows, begin + batch)), dense.data(), state.data(), store, opt);
  }
  std::vector<float> logits(held_out.labels.size());
  evaluator.predict_logits(held_out.view(), dense.data(), store, logits.data());
  std::vector<double> model_p;
  for (float z : logits) model_p.push_back(1.0 / (1.0 + std::exp(-double(z))));
  return {teacher_ne, normalized_entropy(model_p, held_out.labels)};
}

double one_pass_ne(Precision precision, uint64_t seed) { return one_pass(precision, seed).model_ne; }

TEST(ModelTraining, OnePassApproachesThePlantedTeacher) {
  const auto [teacher_ne, model_ne] = one_pass(Precision::Fp32, 1);
  std::printf("teacher NE %.4f, model NE %.4f\n", teacher_ne, model_ne);
  // Measured: teacher 0.632, model 0.665 (one pass over 60k examples of ~1100 planted effects;
  // the estimation error alone of that many parameters is ~0.02 NE).
  EXPECT_LT(teacher_ne, 0.7);               // the task is learnable
  EXPECT_LT(model_ne, 0.75);                // well below 1 (a constant predictor)
  EXPECT_LT(model_ne, teacher_ne + 0.05);   // and within 0.05 of the best possible
}

// --precision bf16 trains as well as fp32: for three initializations, the NE after one pass is
// within kBf16Margin of fp32's from the same initialization. Runs where the CPU has native BF16;
// skipped with the reason elsewhere. One thread, so each run is deterministic.
TEST(ModelTraining, Bf16OnePassNeWithinMeasuredMarginOfFp32) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  // Measured (seeds 1-3): NE fp32 0.66430 / 0.66287 / 0.67189, bf16 0.66433 / 0.66268 / 0.66836:
  // |NE bf16 - NE fp32| at most 0.0035 (0.53 %); the margin is about twice that.
  constexpr double kBf16Margin = 0.008;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const double fp32 = one_pass_ne(Precision::Fp32, seed), bf16 = one_pass_ne(Precision::Bf16, seed);
    std::printf("seed %llu: NE fp32 %.5f, bf16 %.5f (%+.3f %%)\n", static_cast<unsigned long long>(seed), fp32, bf16,
                100.0 * (bf16 / fp32 - 1.0));
    EXPECT_NEAR(bf16, fp32, kBf16Margin) << "seed " << seed;
  }
}

// BF16 embedding rows train as well as fp32 rows: after one pass, NE within kRowsMargin of fp32
// rows' from the same initialization (seeds 1-3), for either rounding, while the untrained
// model is far above (so the bound cannot pass by accident). Runs on any CPU (fp32 GEMMs).
TEST(ModelTraining, Bf16RowsOnePassNeCloseToFp32Rows) {
  // Measured (seeds 1-3): NE fp32 rows 0.66430 / 0.66287 / 0.67189, bf16 rows nearest 0.66557 /
  // 0.66489 / 0.66749, stochastic 0.66267 / 0.66298 / 0.66693 (|difference| at most 0.0050);
  // untrained 1.086 / 1.382 / 0.998. The margin is about twice the largest difference.
  constexpr double kRowsMargin = 0.01;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const double fp32 = one_pass_ne(Precision::Fp32, seed);
    const double nearest = one_pass(Precision::Fp32, seed, RowFormat::Bf16, RowRounding::Nearest).model_ne;
    const double stochastic = one_pass(Precision::Fp32, seed, RowFormat::Bf16, RowRounding::Stochastic).model_ne;
    const double untrained = one_pass(Precision::Fp32, seed, RowFormat::Bf16, RowRounding::Nearest, true).model_ne;
    std::printf("seed %llu: NE fp32 rows %.5f, bf16 rows nearest %.5f (%+.3f %%), stochastic %.5f (%+.3f %%), "
                "untrained %.5f\n",
                static_cast<unsigned long long>(seed), fp32, nearest, 100.0 * (nearest / fp32 - 1.0), stochastic,
                100.0 * (stochastic / fp32 - 1.0), untrained);
    EXPECT_NEAR(nearest, fp32, kRowsMargin) << "seed " << seed;
    EXPECT_NEAR(stochastic, fp32, kRowsMargin) << "seed " << seed;
    EXPECT_GT(untrained, fp32 + 10 * kRowsMargin) << "seed " << seed;
  }
}

}  // namespace
}  // namespace shadowsync
