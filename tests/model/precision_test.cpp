// Precision (precision.hpp): parsing and naming, the machine check's messages for machines
// without native BF16, and the BF16 step's gradients against fp32's within the error BF16's
// 8-bit significand allows (run where the CPU has AVX512_BF16 or AMX; skipped with the reason
// elsewhere).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "model/model_workspace_testing.hpp"
#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

TEST(Precision, ParsesAndNamesEachValue) {
  EXPECT_EQ(parse_precision("fp32"), Precision::Fp32);
  EXPECT_EQ(parse_precision("bf16"), Precision::Bf16);
  EXPECT_EQ(precision_name(Precision::Fp32), "fp32");
  EXPECT_EQ(precision_name(Precision::Bf16), "bf16");
  for (const char* bad : {"fp16", "BF16", "", "bf16 "}) {
    try {
      parse_precision(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "precision: unknown precision \"" + std::string(bad) + "\" (valid: fp32, bf16)");
    }
  }
}

TEST(Precision, Bf16NeedsTheCpuFlagAndOneDnnUsingIt) {
  MachineFacts facts = parse_cpuinfo("model name : Test CPU\nflags : avx2 avx512f\n");
  facts.onednn_isa = "avx512_core";
  EXPECT_EQ(precision_unsupported_reason(Precision::Fp32, facts), "");
  EXPECT_EQ(precision_unsupported_reason(Precision::Bf16, facts),
            "bf16 needs a CPU with AVX512_BF16 or AMX; this one (Test CPU) has neither (avx512_bf16=no amx=no)");
  facts = parse_cpuinfo("model name : Test CPU\nflags : avx512f avx512_bf16\n");
  facts.onednn_isa = "avx512_core";  // ONEDNN_MAX_CPU_ISA=AVX512_CORE
  EXPECT_EQ(precision_unsupported_reason(Precision::Bf16, facts),
            "bf16 needs oneDNN to use the CPU's BF16 instructions, but its ISA is avx512_core (lowered by "
            "ONEDNN_MAX_CPU_ISA?)");
  facts.onednn_isa = "avx512_core_bf16";
  EXPECT_EQ(precision_unsupported_reason(Precision::Bf16, facts), "");
  facts = parse_cpuinfo("model name : Test CPU\nflags : avx512f amx_bf16 amx_tile\n");
  facts.onednn_isa = "avx512_core_amx";
  EXPECT_EQ(precision_unsupported_reason(Precision::Bf16, facts), "");
}

TEST(Precision, WorkspaceTakesBf16OnlyWhereTheMachineRunsIt) {
  const Model model(ModelConfig::preset("tiny", HashingConfig::uniform(5)));
  EXPECT_EQ(ModelWorkspace(model, 4).precision(), Precision::Fp32);
  const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts());
  if (why.empty()) {
    EXPECT_EQ(ModelWorkspace(model, 4, Precision::Bf16).precision(), Precision::Bf16);
  } else {
    try {
      ModelWorkspace bf16(model, 4, Precision::Bf16);
      ADD_FAILURE() << "bf16 accepted on a machine without it";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "precision " + why + "; use fp32");
    }
  }
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Normwise relative difference of two equal-length vectors.
double relative_difference(const std::vector<double>& got, const std::vector<double>& expected) {
  std::vector<double> diff(got.size());
  for (size_t i = 0; i < got.size(); ++i) diff[i] = got[i] - expected[i];
  return norm(diff) / norm(expected);
}

// BF16 rounds each GEMM input to 8 significant bits (relative error at most u = 2^-9), so one
// GEMM's result is within 2u = 2^-8 of fp32's relative to sum |a||b| (tests/model/layers_test.cpp
// checks that bound element by element). Through a whole step the error of a gradient is
// amplified: ReLU masks flip where a pre-activation is near 0, and the batch sums of a weight
// gradient cancel (the result is smaller than sum |dy||x|). Measured on these presets (small,
// kaggle; 64 examples): at most 0.081 normwise = 21 x 2^-8, whichever GEMMs are BF16, and the
// same with forward GEMMs only (the activations' rounding dominates). The tolerance is 2^-8
// times that amplification rounded up to a power of two: 32 x 2^-8 = 0.125.
constexpr double kStepTolerance = 32.0 / 256.0;

// cross_bias: the dcn cross layers' biases (0 after init) are set to cross_bias + (i % 5) / 10,
// so that each x_l differs from x0 and a layer mixing up their copies is seen.
void expect_gradients_within_bf16_rounding(const ModelConfig& config, const char* preset, const char* label,
                                           double bound, float cross_bias = 0.0f) {
  const FeatureSchema& schema = config.schema;
  const Model model(config);
  const DenseLayout& layout = model.layout();
  AlignedFloatBuffer dense(layout.total_floats), grad32(layout.total_floats), grad16(layout.total_floats);
  model.init_dense(dense.data(), 3);
  for (const auto& C : layout.cross) {
    for (int i = 0; i < C.dim; ++i) dense[C.bias_offset + size_t(i)] = cross_bias + 0.1f * float(i % 5);
  }
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 3);
  const test::Batch batch = test::random_batch(64, schema, config.hashing, 17, 6);
  ModelWorkspace fp32(model, 64), bf16(model, 64, Precision::Bf16);
  std::vector<SparseRowGrad> rows32, rows16;
  const float loss32 = fp32.loss_and_gradients(batch.view(), dense.data(), store, grad32.data(), &rows32);
  const float loss16 = bf16.loss_and_gradients(batch.view(), dense.data(), store, grad16.data(), &rows16);

  std::printf("%s %s: loss %.6f (fp32 %.6f)\n", preset, label, loss16, loss32);
  // The loss is a mean over the batch: no cancellation, one forward pass of error.
  EXPECT_NEAR(loss16, loss32, std::ldexp(1.0, -8) * std::fabs(loss32)) << preset << " " << label;
  double largest = 0;
  auto check = [&](const std::string& what, size_t begin, size_t count) {
    const std::vector<double> a(grad16.data() + begin, grad16.data() + begin + count);
    const std::vector<double> b(grad32.data() + begin, grad32.data() + begin + count);
    const double rel = relative_difference(a, b);
    std::printf("  %-16s relative difference %.5f\n", what.c_str(), rel);
    EXPECT_LE(rel, bound) << preset << " " << label << " " << what;
    largest = std::max(largest, rel);
  };
  for (size_t l = 0; l < layout.bottom.size(); ++l) {
    const auto& L = layout.bottom[l];
    check("bottom " + std::to_string(l) + " weights", L.weight_offset, size_t(L.in) * size_t(L.out));
  }
  for (size_t l = 0; l < layout.top.size(); ++l) {
    const auto& L = layout.top[l];
    check("top " + std::to_string(l) + " weights", L.weight_offset, size_t(L.in) * size_t(L.out));
  }
  for (size_t l = 0; l < layout.cross.size(); ++l) {
    const auto& C = layout.cross[l];
    const size_t D = size_t(C.dim), r = size_t(C.rank);
    if (r == 0) {
      check("cross " + std::to_string(l) + " weight", C.weight_offset, D * D);
    } else {
      check("cross " + std::to_string(l) + " v", C.v_offset, r * D);
      check("cross " + std::to_string(l) + " u", C.u_offset, D * r);
    }
    check("cross " + std::to_string(l) + " bias", C.bias_offset, D);
  }
  ASSERT_EQ(rows16.size(), rows32.size());
  std::vector<double> e16, e32;
  for (size_t i = 0; i < rows16.size(); ++i) {
    ASSERT_EQ(rows16[i].table, rows32[i].table);
    ASSERT_EQ(rows16[i].row, rows32[i].row);
    e16.insert(e16.end(), rows16[i].grad.begin(), rows16[i].grad.end());
    e32.insert(e32.end(), rows32[i].grad.begin(), rows32[i].grad.end());
  }
  const double emb = relative_difference(e16, e32);
  std::printf("  %-16s relative difference %.5f\n", "embedding rows", emb);
  EXPECT_LE(emb, bound) << preset << " " << label << " embedding rows";
  // The inputs really were rounded: far above fp32's own rounding (2^-24).
  EXPECT_GT(std::max(largest, emb), std::ldexp(1.0, -16)) << preset << " " << label;
}

void expect_gradients_within_bf16_rounding(const char* preset, const char* label,
                                           const FeatureSchema& schema = FeatureSchema::criteo(),
                                           double bound = kStepTolerance) {
  expect_gradients_within_bf16_rounding(
      ModelConfig::preset(preset, HashingConfig::uniform(40, 0, schema.table_count()), schema), preset, label, bound);
}

TEST(Bf16Step, GradientsMatchFp32WithinBf16Rounding) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  for (const char* preset : {"small", "kaggle"}) expect_gradients_within_bf16_rounding(preset, "every GEMM");
}

// Any schema: multi-hot lists (sum and mean), and no bottom MLP without numeric columns. The
// kaggle bottom MLP over 3 numeric features cancels more than over Criteo's 13: measured 0.137
// normwise (35 x 2^-8) for its first layer's weight gradient (0.094 for small, 0.007 without a
// bottom MLP); the bound is twice the presets' one, 64 x 2^-8 = 0.25.
TEST(Bf16Step, GradientsOfOtherSchemasMatchFp32WithinBf16Rounding) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const double bound = 2 * kStepTolerance;
  expect_gradients_within_bf16_rounding("small", "multi-hot", test::mixed_schema(), bound);
  expect_gradients_within_bf16_rounding("kaggle", "multi-hot", test::mixed_schema(), bound);
  expect_gradients_within_bf16_rounding("small", "no numeric", test::mixed_schema(false), bound);
}

// DCN-v2 cross layers in BF16 (every cross GEMM too): the dcn preset (3 full-rank layers) and a
// low-rank one (rank 32), over Criteo's schema and the multi-hot one, cross biases 0.25 to 0.65
// (x_l far from x0: a weight gradient taken from another layer's input copy gives 0.33 to 0.5).
// The bottom MLP's gradient now comes through 3 more BF16 backward-data GEMMs (6 for rank 32):
// measured at most 0.196 normwise (bottom 0 weights; cross tensors at most 0.083, embedding rows
// less); the bound is the other schemas' one, 64 x 2^-8 = 0.25.
TEST(Bf16Step, DcnGradientsMatchFp32WithinBf16Rounding) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  for (const FeatureSchema& schema : {FeatureSchema::criteo(), test::mixed_schema()}) {
    ModelConfig config = ModelConfig::preset("dcn", HashingConfig::uniform(40, 0, schema.table_count()), schema);
    expect_gradients_within_bf16_rounding(config, "dcn", "full rank", 2 * kStepTolerance, 0.25f);
    config.cross_rank = 32;
    expect_gradients_within_bf16_rounding(config, "dcn", "rank 32", 2 * kStepTolerance, 0.25f);
  }
}

// A bf16 dcn model trains: 30 Adagrad steps on one batch lower its loss as fp32's do, to within
// a few percent of fp32's loss.
TEST(Bf16Step, DcnTrainsLikeFp32) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  ModelConfig config = ModelConfig::preset("dcn", HashingConfig::uniform(40));
  config.cross_rank = 64;
  const Model model(config);
  const test::Batch batch = test::random_batch(64, config.hashing, 29);
  auto train = [&](Precision precision) {
    AlignedFloatBuffer dense(model.layout().total_floats), state(model.layout().total_floats);
    model.init_dense(dense.data(), 9);
    EmbeddingStore store(config.hashing, config.embedding_dim);
    model.init_embeddings(store, 9);
    ModelWorkspace workspace(model, 64, precision);
    OptimizerConfig opt;
    std::vector<float> losses;
    for (int i = 0; i < 30; ++i) losses.push_back(workspace.train_step(batch.view(), dense.data(), state.data(), store, opt));
    return losses;
  };
  const std::vector<float> fp32 = train(Precision::Fp32), bf16 = train(Precision::Bf16);
  std::printf("dcn rank 64: loss %.5f -> %.5f (fp32 %.5f -> %.5f)\n", bf16.front(), bf16.back(), fp32.front(),
              fp32.back());
  EXPECT_NEAR(bf16.front(), fp32.front(), std::ldexp(1.0, -8) * fp32.front());
  EXPECT_LT(bf16.back(), 0.5f * bf16.front());
  EXPECT_NEAR(bf16.back(), fp32.back(), 0.05 * fp32.front());
}

// Hogwild: other threads update the replica's weights between a step's forward and backward
// passes. A bf16 step rounds each layer's weights once, in the forward pass, and its backward
// pass multiplies by that copy: its gradients are those of the weights its forward pass used,
// bit for bit, however much the fp32 weights changed in between. (An fp32 step reads the live
// weights in its backward pass: the control, whose gradients do change.)
TEST(Bf16Step, BackwardUsesTheWeightsOfItsForwardPass) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    GTEST_SKIP() << why;
  }
  const ModelConfig config = ModelConfig::preset("kaggle", HashingConfig::uniform(40));
  const Model model(config);
  const DenseLayout& layout = model.layout();
  AlignedFloatBuffer dense(layout.total_floats), changed(layout.total_floats);
  model.init_dense(dense.data(), 5);
  for (size_t i = 0; i < layout.total_floats; ++i) changed.data()[i] = dense.data()[i] * 1.5f + 0.01f;
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 5);
  const test::Batch batch = test::random_batch(64, config.hashing, 23);

  auto gradients = [&](Precision precision, const float* backward_weights) {
    ModelWorkspace workspace(model, 64, precision);
    AlignedFloatBuffer grad(layout.total_floats);
    ModelWorkspaceTesting::loss_and_gradients_weights_changed(workspace, batch.view(), dense.data(), backward_weights,
                                                              store, grad.data());
    return std::vector<float>(grad.data(), grad.data() + layout.total_floats);
  };
  // Every layer below the top one gets its gradient through the backward-data GEMMs above it.
  const std::vector<float> bf16_same = gradients(Precision::Bf16, dense.data());
  const std::vector<float> bf16_changed = gradients(Precision::Bf16, changed.data());
  EXPECT_EQ(bf16_changed, bf16_same);
  const std::vector<float> fp32_same = gradients(Precision::Fp32, dense.data());
  const std::vector<float> fp32_changed = gradients(Precision::Fp32, changed.data());
  const auto& bottom0 = layout.bottom[0];
  const std::vector<float> a(fp32_same.begin() + long(bottom0.weight_offset),
                             fp32_same.begin() + long(bottom0.weight_offset + size_t(bottom0.in) * bottom0.out));
  const std::vector<float> b(fp32_changed.begin() + long(bottom0.weight_offset),
                             fp32_changed.begin() + long(bottom0.weight_offset + size_t(bottom0.in) * bottom0.out));
  EXPECT_GT(relative_difference(std::vector<double>(b.begin(), b.end()), std::vector<double>(a.begin(), a.end())), 0.1)
      << "the control: fp32 backward passes read the changed weights";
}

// The BF16 copies a workspace holds, from the layer shapes: each layer's weights and input
// (max_batch rows) and one output gradient of the widest layer, 2 bytes each.
TEST(Bf16Step, WorkspaceCopyBytesFollowTheLayerShapes) {
  const Model model(ModelConfig::preset("kaggle", HashingConfig::uniform(40)));
  EXPECT_EQ(ModelWorkspace::bf16_copy_bytes(model, 128, Precision::Fp32), 0u);
  // kaggle: bottom 13-512-256-64-16, top 367-512-256-1.
  const uint64_t weights = 13 * 512 + 512 * 256 + 256 * 64 + 64 * 16 + 367 * 512 + 512 * 256 + 256 * 1;
  const uint64_t inputs = 13 + 512 + 256 + 64 + 367 + 512 + 256;
  EXPECT_EQ(ModelWorkspace::bf16_copy_bytes(model, 128, Precision::Bf16), 2 * (weights + 128 * inputs + 128 * 512));
  EXPECT_EQ(ModelWorkspace::bf16_copy_bytes(model, 128, Precision::Bf16), 1'586'688u);
  // dcn: the same MLPs (top input 432 = 27 x 16 instead of 367) and per cross layer W (or V and
  // U) and x_l (and h_l), then one dp (and dh).
  ModelConfig dcn = ModelConfig::preset("dcn", HashingConfig::uniform(40));
  const uint64_t mlp = 2 * (weights + 65 * 512 + 128 * (inputs + 65) + 128 * 512);
  EXPECT_EQ(ModelWorkspace::bf16_copy_bytes(Model(dcn), 128, Precision::Bf16),
            mlp + 2 * (3 * (432 * 432 + 128 * 432) + 128 * 432));
  dcn.cross_rank = 20;
  EXPECT_EQ(ModelWorkspace::bf16_copy_bytes(Model(dcn), 128, Precision::Bf16),
            mlp + 2 * (3 * (2 * 432 * 20 + 128 * 432 + 128 * 20) + 128 * 432 + 128 * 20));
}

}  // namespace
}  // namespace shadowsync
