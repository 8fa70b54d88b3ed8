// named_parameters: the model's tensors by their exported names (named_parameters.hpp).
#include "shadowsync/model/named_parameters.hpp"

#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

void add_layers(std::vector<NamedTensor>& out, const std::vector<DenseLayout::Layer>& layers, const std::string& mlp,
                const float* dense) {
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto& L = layers[l];
    const std::string prefix = mlp + "." + std::to_string(l);
    out.push_back(NamedTensor{prefix + ".weight", {L.out, L.in}, dense + L.weight_offset, L.in, nullptr});
    out.push_back(NamedTensor{prefix + ".bias", {L.out}, dense + L.bias_offset, L.out, nullptr});
  }
}

}  // namespace

std::vector<float> NamedTensor::packed() const {
  std::vector<float> out;
  out.reserve(size_t(elements()));
  if (shape.size() == 1) return std::vector<float>(data, data + shape[0]);
  for (int64_t r = 0; r < shape[0]; ++r) {
    const float* row = data + r * row_stride;
    out.insert(out.end(), row, row + shape[1]);
  }
  return out;
}

std::vector<NamedTensor> named_parameters(const Model& model, const float* dense, const EmbeddingStore& embeddings) {
  const ModelConfig& config = model.config();
  if (embeddings.dim() != config.embedding_dim || embeddings.hashing() != config.hashing) {
    throw Error("named_parameters: embedding tables of another model (dim " + std::to_string(embeddings.dim()) +
                ", " + std::to_string(embeddings.tables()) + " tables) than the model's (dim " +
                std::to_string(config.embedding_dim) + ", " + std::to_string(config.hashing.tables()) + " tables)");
  }
  std::vector<NamedTensor> out;
  add_layers(out, model.layout().bottom, "bottom", dense);
  for (int t = 0; t < embeddings.tables(); ++t) {
    const std::string name = "embedding." + std::to_string(t) + ".weight";
    const std::vector<int64_t> shape{int64_t(embeddings.rows(t)), int64_t(embeddings.dim())};
    if (embeddings.format() == RowFormat::Fp32) {
      out.push_back(NamedTensor{name, shape, embeddings.table_data(t), embeddings.row_stride(), nullptr});
      continue;
    }
    // bf16 rows: an owned, packed fp32 copy (widening is exact).
    const int d = embeddings.dim();
    auto copy = std::make_shared<std::vector<float>>(embeddings.rows(t) * size_t(d));
    for (size_t r = 0; r < embeddings.rows(t); ++r) {
      const uint16_t* row = embeddings.row_bf16(t, uint32_t(r));
      for (int k = 0; k < d; ++k) (*copy)[r * size_t(d) + size_t(k)] = bf16_to_float(row[k]);
    }
    out.push_back(NamedTensor{name, shape, copy->data(), d, copy});
  }
  const auto& cross = model.layout().cross;
  for (size_t l = 0; l < cross.size(); ++l) {
    const auto& C = cross[l];
    const std::string prefix = "cross." + std::to_string(l);
    if (C.rank == 0) {
      out.push_back(NamedTensor{prefix + ".weight", {C.dim, C.dim}, dense + C.weight_offset, C.dim, nullptr});
    } else {
      out.push_back(NamedTensor{prefix + ".v", {C.rank, C.dim}, dense + C.v_offset, C.dim, nullptr});
      out.push_back(NamedTensor{prefix + ".u", {C.dim, C.rank}, dense + C.u_offset, C.rank, nullptr});
    }
    out.push_back(NamedTensor{prefix + ".bias", {C.dim}, dense + C.bias_offset, C.dim, nullptr});
  }
  add_layers(out, model.layout().top, "top", dense);
  return out;
}

}  // namespace shadowsync
