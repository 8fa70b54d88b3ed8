// One training step against PyTorch (tests/model/torch_step.py, Debian's /usr/bin/python3 with
// torch): a model of a non-Criteo schema (numeric, one-hot and multi-hot columns pooled by sum
// and by mean, lists empty and with repeated ids), the same initial weights, one step with dense
// Adagrad and row-wise Adagrad; every weight after the step equal within 1e-5. Skipped, with the
// reason printed, where torch is not importable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

#ifndef SHADOWSYNC_TORCH_STEP_SCRIPT
#error "SHADOWSYNC_TORCH_STEP_SCRIPT (the path of torch_step.py) must be defined by the build"
#endif

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json layer_json(const DenseLayout::Layer& L, const float* dense) {
  return {{"in", L.in},
          {"weight", std::vector<float>(dense + L.weight_offset, dense + L.weight_offset + size_t(L.in) * size_t(L.out))},
          {"bias", std::vector<float>(dense + L.bias_offset, dense + L.bias_offset + size_t(L.out))}};
}

void expect_layer(const nlohmann::json& j, const DenseLayout::Layer& L, const float* dense, const std::string& name) {
  const auto w = j.at("weight").get<std::vector<float>>();
  const auto b = j.at("bias").get<std::vector<float>>();
  ASSERT_EQ(w.size(), size_t(L.in) * size_t(L.out)) << name;
  ASSERT_EQ(b.size(), size_t(L.out)) << name;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(dense[L.weight_offset + i], w[i], 1e-5) << name << " weight " << i;
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(dense[L.bias_offset + i], b[i], 1e-5) << name << " bias " << i;
}

class TorchStep : public ::testing::TestWithParam<std::tuple<bool, Interaction>> {};

TEST_P(TorchStep, OneAdagradStepEqualsPyTorch) {
  const fs::path dir = fs::temp_directory_path() / ("shadowsync_torch_step_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string script = SHADOWSYNC_TORCH_STEP_SCRIPT;
  // torch importable? Else skip, saying why.
  const std::string probe = "/usr/bin/python3 -c 'import torch' > '" + (dir / "probe.txt").string() + "' 2>&1";
  if (std::system(probe.c_str()) != 0) {
    const std::string why = read_text(dir / "probe.txt");
    fs::remove_all(dir);
    GTEST_SKIP() << "torch is not importable by /usr/bin/python3: " << why.substr(why.rfind('\n', why.size() - 2) + 1);
  }

  const bool numeric = std::get<0>(GetParam());
  const FeatureSchema schema = test::mixed_schema(numeric);  // tables: site, device, tags (sum), history (mean)
  ModelConfig config = ModelConfig::preset("tiny", HashingConfig::uniform(7, 0, schema.table_count()), schema);
  config.interaction = std::get<1>(GetParam());
  const Model model(config);
  const DenseLayout& layout = model.layout();
  AlignedFloatBuffer dense(layout.total_floats), state(layout.total_floats);
  model.init_dense(dense.data(), 21);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_embeddings(store, 21);
  const int d = config.embedding_dim;
  for (int t = 0; t < store.tables(); ++t) {  // larger than the DLRM init: the interaction matters
    for (size_t i = 0; i < store.table_floats(t); ++i) store.table_data(t)[i] *= 4.0f;
  }
  test::Batch batch = test::random_batch(8, schema, config.hashing, 31, 5);
  batch.list(0, 0) = {2, 2, 5};  // a repeated id, pooled by sum
  batch.list(1, 0) = {};
  batch.list(2, 0) = {2};        // the same id in another row
  batch.list(0, 1) = {3, 3, 1};  // repeated, pooled by mean
  batch.list(1, 1) = {};         // empty, mean: zeros
  batch.list(4, 1) = {3};
  batch.pack();
  OptimizerConfig opt;
  opt.lr = 0.05f;
  opt.emb_lr = 0.1f;
  opt.eps = 1e-8f;

  nlohmann::json spec;
  spec["dim"] = d;
  spec["interaction"] = interaction_name(config.interaction);
  spec["lr"] = opt.lr;
  spec["emb_lr"] = opt.emb_lr;
  spec["eps"] = opt.eps;
  spec["bottom"] = nlohmann::json::array();
  spec["top"] = nlohmann::json::array();
  for (const auto& L : layout.bottom) spec["bottom"].push_back(layer_json(L, dense.data()));
  for (const auto& L : layout.top) spec["top"].push_back(layer_json(L, dense.data()));
  const FeatureWidths w = batch.widths;
  spec["tables"] = nlohmann::json::array();
  for (int t = 0; t < store.tables(); ++t) {
    std::vector<float> weight;
    for (size_t r = 0; r < store.rows(t); ++r) weight.insert(weight.end(), store.row(t, uint32_t(r)), store.row(t, uint32_t(r)) + d);
    const bool mean = t >= w.sparse && schema.pooling(t - w.sparse) == Pooling::Mean;
    spec["tables"].push_back({{"rows", store.rows(t)}, {"pooling", mean ? "mean" : "sum"}, {"weight", weight}});
  }
  spec["batch"]["labels"] = batch.labels;
  spec["batch"]["numeric"] = batch.numeric;
  spec["batch"]["lists"] = nlohmann::json::array();
  for (int t = 0; t < w.tables(); ++t) {
    nlohmann::json lists = nlohmann::json::array();
    for (size_t r = 0; r < batch.labels.size(); ++r) {
      if (t < w.sparse) {
        lists.push_back(std::vector<uint32_t>{batch.sparse[r * size_t(w.sparse) + size_t(t)]});
      } else {
        lists.push_back(batch.list(r, t - w.sparse));
      }
    }
    spec["batch"]["lists"].push_back(lists);
  }
  std::ofstream(dir / "in.json") << spec.dump();

  const std::string command = "/usr/bin/python3 '" + script + "' '" + (dir / "in.json").string() + "' '" +
                              (dir / "out.json").string() + "' > '" + (dir / "log.txt").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_EQ(status, 0) << command << "\n" << read_text(dir / "log.txt");
  const nlohmann::json out = nlohmann::json::parse(read_text(dir / "out.json"));
  fs::remove_all(dir);

  ModelWorkspace workspace(model, 8);
  const float loss = workspace.train_step(batch.view(), dense.data(), state.data(), store, opt);
  EXPECT_NEAR(loss, out.at("loss").get<double>(), 1e-5);
  for (size_t l = 0; l < layout.bottom.size(); ++l) {
    expect_layer(out.at("bottom").at(l), layout.bottom[l], dense.data(), "bottom " + std::to_string(l));
  }
  for (size_t l = 0; l < layout.top.size(); ++l) {
    expect_layer(out.at("top").at(l), layout.top[l], dense.data(), "top " + std::to_string(l));
  }
  int moved = 0;  // table entries the step changed (the comparison is not of untouched tables only)
  for (int t = 0; t < store.tables(); ++t) {
    const auto after = out.at("tables").at(size_t(t)).get<std::vector<float>>();
    ASSERT_EQ(after.size(), store.rows(t) * size_t(d));
    for (size_t r = 0; r < store.rows(t); ++r) {
      for (int k = 0; k < d; ++k) {
        const float ours = store.row(t, uint32_t(r))[k];
        EXPECT_NEAR(ours, after[r * size_t(d) + size_t(k)], 1e-5) << "table " << t << " row " << r << " k " << k;
        moved += spec["tables"][size_t(t)]["weight"][r * size_t(d) + size_t(k)].get<float>() != ours;
      }
    }
  }
  EXPECT_GT(moved, 0);
}

INSTANTIATE_TEST_SUITE_P(Schemas, TorchStep,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(Interaction::Dot, Interaction::Cat)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Numeric" : "NoNumeric") +
                                  (std::get<1>(info.param) == Interaction::Dot ? "Dot" : "Cat");
                         });

}  // namespace
}  // namespace shadowsync
