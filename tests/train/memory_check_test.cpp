// The up-front memory check's estimate of one worker's buffers (train/memory_check.hpp): a bf16
// run adds exactly the workspace's BF16 copies, computed from the model's layer shapes and the
// batch; and a hopeless size is refused with a message naming the fields that make it large.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "train/memory_check.hpp"

namespace shadowsync::train {
namespace {

// The BF16 copies of a workspace from the layer shapes: each layer's weights (out x in) and
// input (batch x in), one output gradient of the widest layer (batch x max out), 2 bytes each.
uint64_t expected_bf16_bytes(const Model& model, int batch) {
  uint64_t halves = 0, widest_out = 0;
  for (const auto* mlp : {&model.layout().bottom, &model.layout().top}) {
    for (const DenseLayout::Layer& l : *mlp) {
      halves += uint64_t(l.out) * uint64_t(l.in) + uint64_t(batch) * uint64_t(l.in);
      widest_out = std::max(widest_out, uint64_t(l.out));
    }
  }
  return 2 * (halves + uint64_t(batch) * widest_out);
}

TEST(MemoryCheck, Bf16WorkspaceAddsItsBf16Copies) {
  for (const char* preset : {"small", "kaggle"}) {
    const Model model(ModelConfig::preset(preset, HashingConfig::uniform(40)));
    for (const int batch : {1, 128, 1024}) {
      const uint64_t fp32 = workspace_bytes(model, batch, Precision::Fp32);
      const uint64_t bf16 = workspace_bytes(model, batch, Precision::Bf16);
      EXPECT_GT(fp32, 0u);
      EXPECT_EQ(bf16 - fp32, expected_bf16_bytes(model, batch)) << preset << " batch " << batch;
      EXPECT_EQ(bf16 - fp32, ModelWorkspace::bf16_copy_bytes(model, batch, Precision::Bf16));
    }
  }
  // kaggle at batch 128: 474,368 weights, 1,980 input floats per example and 512 output
  // gradient floats per example, 2 bytes each.
  const Model kaggle(ModelConfig::preset("kaggle", HashingConfig::uniform(40)));
  EXPECT_EQ(workspace_bytes(kaggle, 128, Precision::Bf16) - workspace_bytes(kaggle, 128, Precision::Fp32),
            2u * (474'368u + 128u * 1'980u + 128u * 512u));
}

TEST(MemoryCheck, RefusesAHopelessBatchNamingTheFields) {
  const Model model(ModelConfig::preset("small", HashingConfig::uniform(40)));
  try {
    check_memory_fits(model, 1, 1000, 1 << 30, Precision::Bf16);
    GTEST_SKIP() << "/proc/meminfo not readable: the check is off";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("not enough memory: this run needs about ", 0), 0u) << what;
    EXPECT_NE(what.find("1000 worker buffers of "), std::string::npos) << what;
    EXPECT_NE(what.find(" each from batch 1073741824)"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace shadowsync::train
