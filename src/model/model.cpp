// Model: architecture + layout, and the deterministic DLRM initialization of its parameters.
#include "shadowsync/model/model.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/splitmix64.hpp"

namespace shadowsync {
namespace {

// Counter-based generator: value i of stream s for a seed is a pure function of (seed, s, i),
// so any split of the work (oneTBB) gives the same numbers.
struct Stream {
  uint64_t key;
  Stream(uint64_t seed, uint64_t stream) : key(splitmix64_next(splitmix64_next(seed) ^ (stream * 0xD1B54A32D192ED03ull))) {}
  // Uniform in (0, 1], 53 bits.
  double uniform(uint64_t i) const { return (double((splitmix64_next(key + i) >> 11) + 1)) * 0x1.0p-53; }
  // Standard normal (Box-Muller on draws 2i and 2i+1).
  double normal(uint64_t i) const {
    const double u1 = uniform(2 * i), u2 = uniform(2 * i + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
};

void init_layer(float* dense, const DenseLayout::Layer& layer, uint64_t seed, uint64_t index) {
  const Stream weights(seed, 2 * index), biases(seed, 2 * index + 1);
  const double w_std = std::sqrt(2.0 / (layer.in + layer.out));
  const double b_std = std::sqrt(1.0 / layer.out);
  const size_t n = size_t(layer.in) * size_t(layer.out);
  for (size_t i = 0; i < n; ++i) dense[layer.weight_offset + i] = float(w_std * weights.normal(i));
  for (int i = 0; i < layer.out; ++i) dense[layer.bias_offset + i] = float(b_std * biases.normal(i));
}

// Xavier normal (std sqrt(2 / (fan_in + fan_out))) for an out x in matrix, from stream `index`.
void init_matrix(float* dense, size_t offset, int out, int in, uint64_t seed, uint64_t index) {
  const Stream weights(seed, 2 * index);
  const double std_dev = std::sqrt(2.0 / (in + out));
  const size_t n = size_t(in) * size_t(out);
  for (size_t i = 0; i < n; ++i) dense[offset + i] = float(std_dev * weights.normal(i));
}

// A dcn cross layer as torchrec's CrossNet / LowRankCrossNet: W (or U and V) Xavier normal, bias
// 0. Streams 500 + 2l (W or V) and 501 + 2l (U), apart from the MLP layers' (0, 1, ...) so that a
// dot or cat model's values do not depend on whether cross layers exist.
void init_cross(float* dense, const DenseLayout::Cross& cross, uint64_t seed, uint64_t layer) {
  const uint64_t index = 500 + 2 * layer;
  if (cross.rank == 0) {
    init_matrix(dense, cross.weight_offset, cross.dim, cross.dim, seed, index);
  } else {
    init_matrix(dense, cross.v_offset, cross.rank, cross.dim, seed, index);
    init_matrix(dense, cross.u_offset, cross.dim, cross.rank, seed, index + 1);
  }
  // The bias stays 0 (the buffer was cleared).
}

}  // namespace

Model::Model(ModelConfig config) : config_(std::move(config)) {
  config_.validate("model");
  layout_ = DenseLayout::for_config(config_);
}

void Model::init_dense(float* dense, uint64_t seed) const {
  std::memset(dense, 0, layout_.total_floats * sizeof(float));
  uint64_t index = 0;
  for (const auto& layer : layout_.bottom) init_layer(dense, layer, seed, index++);
  for (const auto& layer : layout_.top) init_layer(dense, layer, seed, index++);
  for (size_t l = 0; l < layout_.cross.size(); ++l) init_cross(dense, layout_.cross[l], seed, l);
}

void Model::init_embeddings(EmbeddingStore& store, uint64_t seed) const {
  if (store.dim() != config_.embedding_dim || store.hashing() != config_.hashing) {
    throw Error("init_embeddings: the embedding store's dim / hashing differ from the model's");
  }
  const int dim = store.dim(), stride = store.row_stride();
  constexpr size_t kRowsPerTask = 4096;
  for (int t = 0; t < store.tables(); ++t) {
    const Stream stream(seed, 1000003 + uint64_t(t));
    const double bound = std::sqrt(1.0 / double(store.rows(t)));
    // bf16 rows: the fp32 rows' values rounded to the nearest BF16 (ties to even).
    const bool bf16 = store.format() == RowFormat::Bf16;
    tbb::parallel_for(tbb::blocked_range<size_t>(0, store.rows(t), kRowsPerTask),
                      [&](const tbb::blocked_range<size_t>& range) {
                        for (size_t r = range.begin(); r != range.end(); ++r) {
                          if (bf16) {
                            uint16_t* row = store.row_bf16(t, uint32_t(r));
                            for (int k = 0; k < dim; ++k) {
                              const double u = stream.uniform(r * dim + k);  // (0, 1]
                              row[k] = float_to_bf16_nearest(float(bound * (2.0 * u - 1.0)));
                            }
                            for (int k = dim; k < stride; ++k) row[k] = 0;
                            continue;
                          }
                          float* row = store.row(t, uint32_t(r));
                          for (int k = 0; k < dim; ++k) {
                            const double u = stream.uniform(r * dim + k);  // (0, 1]
                            row[k] = float(bound * (2.0 * u - 1.0));
                          }
                          for (int k = dim; k < stride; ++k) row[k] = 0.0f;
                        }
                      });
    std::memset(store.accumulator(t), 0, store.rows(t) * sizeof(float));
  }
}

}  // namespace shadowsync
