// One training step against PyTorch (tests/model/torch_step.py, Debian's /usr/bin/python3 with
// torch): models (dot, cat, dcn full and low rank) of a non-Criteo schema (numeric, one-hot and multi-hot columns pooled by sum
// and by mean, lists empty and with repeated ids), the same initial weights, one step with dense
// Adagrad and row-wise Adagrad; every weight after the step equal within 1e-5. Skipped, with the
// reason printed, where torch is not importable.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sys/wait.h>
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

// A dcn cross layer's tensors by the names torch_step.py reads (weight, or v and u; bias).
std::vector<std::pair<std::string, std::pair<size_t, size_t>>> cross_tensors(const DenseLayout::Cross& C) {
  const size_t D = size_t(C.dim), r = size_t(C.rank);
  if (r == 0) return {{"weight", {C.weight_offset, D * D}}, {"bias", {C.bias_offset, D}}};
  return {{"v", {C.v_offset, r * D}}, {"u", {C.u_offset, D * r}}, {"bias", {C.bias_offset, D}}};
}

nlohmann::json cross_json(const DenseLayout::Cross& C, const float* dense) {
  nlohmann::json j;
  for (const auto& [name, range] : cross_tensors(C)) {
    j[name] = std::vector<float>(dense + range.first, dense + range.first + range.second);
  }
  return j;
}

// One case: a model of test::mixed_schema(numeric), its batch and the step's settings.
struct Case {
  std::string name;
  ModelConfig config;
  std::unique_ptr<Model> model;
  AlignedFloatBuffer dense, state;
  std::unique_ptr<EmbeddingStore> store;
  test::Batch batch;
  nlohmann::json spec;
};

constexpr float kLr = 0.05f, kEmbLr = 0.1f, kEps = 1e-8f;

// cross_rank < 0: not dcn; else 2 cross layers of that rank (0: full).
std::unique_ptr<Case> make_case(bool numeric, Interaction interaction, int cross_rank = -1) {
  auto c = std::make_unique<Case>();
  c->name = std::string(numeric ? "numeric" : "no numeric") + " " + interaction_name(interaction) +
            (cross_rank >= 0 ? " rank " + std::to_string(cross_rank) : "");
  const FeatureSchema schema = test::mixed_schema(numeric);  // tables: site, device, tags (sum), history (mean)
  c->config = ModelConfig::preset("tiny", HashingConfig::uniform(7, 0, schema.table_count()), schema);
  c->config.interaction = interaction;
  if (interaction == Interaction::Dcn) {
    c->config.cross_layers = 2;
    c->config.cross_rank = cross_rank;
  }
  c->model = std::make_unique<Model>(c->config);
  const DenseLayout& layout = c->model->layout();
  c->dense = AlignedFloatBuffer(layout.total_floats);
  c->state = AlignedFloatBuffer(layout.total_floats);
  std::memset(c->state.data(), 0, layout.total_floats * sizeof(float));
  c->model->init_dense(c->dense.data(), 21);
  for (const auto& C : layout.cross) {  // the init's bias is 0: give the bias a value to check
    for (int i = 0; i < C.dim; ++i) c->dense[C.bias_offset + size_t(i)] = 0.05f * float((i % 5) - 2);
  }
  c->store = std::make_unique<EmbeddingStore>(c->config.hashing, c->config.embedding_dim);
  EmbeddingStore& store = *c->store;
  c->model->init_embeddings(store, 21);
  const int d = c->config.embedding_dim;
  for (int t = 0; t < store.tables(); ++t) {  // larger than the DLRM init: the interaction matters
    for (size_t i = 0; i < store.table_floats(t); ++i) store.table_data(t)[i] *= 4.0f;
  }
  test::Batch& batch = c->batch;
  batch = test::random_batch(8, schema, c->config.hashing, 31, 5);
  batch.list(0, 0) = {2, 2, 5};  // a repeated id, pooled by sum
  batch.list(1, 0) = {};
  batch.list(2, 0) = {2};        // the same id in another row
  batch.list(0, 1) = {3, 3, 1};  // repeated, pooled by mean
  batch.list(1, 1) = {};         // empty, mean: zeros
  batch.list(4, 1) = {3};
  batch.pack();

  nlohmann::json& spec = c->spec;
  spec["dim"] = d;
  spec["interaction"] = interaction_name(interaction);
  spec["lr"] = kLr;
  spec["emb_lr"] = kEmbLr;
  spec["eps"] = kEps;
  spec["bottom"] = nlohmann::json::array();
  spec["top"] = nlohmann::json::array();
  for (const auto& L : layout.bottom) spec["bottom"].push_back(layer_json(L, c->dense.data()));
  for (const auto& L : layout.top) spec["top"].push_back(layer_json(L, c->dense.data()));
  spec["cross"] = nlohmann::json::array();
  for (const auto& C : layout.cross) spec["cross"].push_back(cross_json(C, c->dense.data()));
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
  return c;
}

// Our step on the case, compared with PyTorch's parameters after its step (`out`).
void expect_same_step(Case& c, const nlohmann::json& out) {
  SCOPED_TRACE(c.name);
  const DenseLayout& layout = c.model->layout();
  EmbeddingStore& store = *c.store;
  const int d = c.config.embedding_dim;
  OptimizerConfig opt;
  opt.lr = kLr;
  opt.emb_lr = kEmbLr;
  opt.eps = kEps;
  ModelWorkspace workspace(*c.model, 8);
  const float loss = workspace.train_step(c.batch.view(), c.dense.data(), c.state.data(), store, opt);
  EXPECT_NEAR(loss, out.at("loss").get<double>(), 1e-5);
  for (size_t l = 0; l < layout.bottom.size(); ++l) {
    expect_layer(out.at("bottom").at(l), layout.bottom[l], c.dense.data(), "bottom " + std::to_string(l));
  }
  for (size_t l = 0; l < layout.top.size(); ++l) {
    expect_layer(out.at("top").at(l), layout.top[l], c.dense.data(), "top " + std::to_string(l));
  }
  ASSERT_EQ(out.at("cross").size(), layout.cross.size());
  for (size_t l = 0; l < layout.cross.size(); ++l) {
    for (const auto& [name, range] : cross_tensors(layout.cross[l])) {
      const auto after = out.at("cross").at(l).at(name).get<std::vector<float>>();
      const auto before = c.spec["cross"][l][name].get<std::vector<float>>();
      ASSERT_EQ(after.size(), range.second) << name;
      size_t moved = 0;
      for (size_t i = 0; i < range.second; ++i) {
        EXPECT_NEAR(c.dense[range.first + i], after[i], 1e-5) << "cross " << l << " " << name << " " << i;
        moved += before[i] != after[i];
      }
      EXPECT_GT(moved, 0u) << "cross " << l << " " << name;  // the step changed it
    }
  }
  int moved = 0;  // table entries the step changed (the comparison is not of untouched rows only)
  for (int t = 0; t < store.tables(); ++t) {
    const auto after = out.at("tables").at(size_t(t)).get<std::vector<float>>();
    ASSERT_EQ(after.size(), store.rows(t) * size_t(d));
    for (size_t r = 0; r < store.rows(t); ++r) {
      for (int k = 0; k < d; ++k) {
        const float ours = store.row(t, uint32_t(r))[k];
        EXPECT_NEAR(ours, after[r * size_t(d) + size_t(k)], 1e-5) << "table " << t << " row " << r << " k " << k;
        moved += c.spec["tables"][size_t(t)]["weight"][r * size_t(d) + size_t(k)].get<float>() != ours;
      }
    }
  }
  EXPECT_GT(moved, 0);
}

// Eight cases (with and without numeric columns; dot, cat, dcn full rank and rank 3) in one Python run (importing torch
// takes seconds).
TEST(TorchStep, OneAdagradStepEqualsPyTorch) {
  const fs::path dir = fs::temp_directory_path() / ("shadowsync_torch_step_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string script = SHADOWSYNC_TORCH_STEP_SCRIPT;
  std::vector<std::unique_ptr<Case>> cases;
  std::string command = "/usr/bin/python3 '" + script + "'";
  for (bool numeric : {true, false}) {
    for (Interaction interaction : {Interaction::Dot, Interaction::Cat}) cases.push_back(make_case(numeric, interaction));
    for (int rank : {0, 3}) cases.push_back(make_case(numeric, Interaction::Dcn, rank));
  }
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string i = std::to_string(k + 1);
    std::ofstream(dir / ("in" + i + ".json")) << cases[k]->spec.dump();
    command += " '" + (dir / ("in" + i + ".json")).string() + "' '" + (dir / ("out" + i + ".json")).string() + "'";
  }
  command += " > '" + (dir / "log.txt").string() + "' 2>&1";
  const int status = std::system(command.c_str());
  const std::string log = read_text(dir / "log.txt");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {  // torch_step.py: torch is not importable
    fs::remove_all(dir);
    GTEST_SKIP() << log;
  }
  ASSERT_EQ(status, 0) << command << "\n" << log;
  for (size_t i = 0; i < cases.size(); ++i) {
    expect_same_step(*cases[i], nlohmann::json::parse(read_text(dir / ("out" + std::to_string(i + 1) + ".json"))));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shadowsync
