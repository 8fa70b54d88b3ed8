// DenseLayout: where every dense parameter (each MLP weight and bias) lives inside the one
// contiguous float buffer that is a dense replica. The same layout describes a replica, its
// Adagrad state and a dense gradient, so the sync rules can treat them as flat float arrays.
//
// Contract:
//  - every tensor starts at a 64-byte-aligned offset (a multiple of 16 floats) from the buffer
//    start; the buffer itself is 64-byte aligned (AlignedFloatBuffer); the gaps are zero and stay
//    zero (their gradient is zero);
//  - order: bottom layers (weight, bias) in order, then the dcn cross layers (full rank: weight,
//    bias; low rank: v, u, bias), then top layers (weight, bias); dot and cat models have no
//    cross layers (their layouts are those of before cross layers existed);
//  - a weight is (out x in) row-major, i.e. W[o * in + i] (oneDNN inner_product "oi", PyTorch
//    nn.Linear), used in place as the B operand of a transposed GEMM: Y = X * W^T + b.
#pragma once

#include <cstddef>
#include <vector>

#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

struct DenseLayout {
  struct Layer {
    size_t weight_offset = 0;  // floats from the buffer start; out * in floats
    size_t bias_offset = 0;    // out floats
    int in = 0;
    int out = 0;
  };
  // A DCN-v2 cross layer: p = x W^T + b (full rank, W: dim x dim) or p = (x V^T) U^T + b (low
  // rank, V: rank x dim, U: dim x rank), each (out x in) row-major like a Layer's weight.
  struct Cross {
    size_t weight_offset = 0;  // full rank: dim * dim floats (0 and unused for low rank)
    size_t v_offset = 0;       // low rank: rank * dim floats (V, applied first)
    size_t u_offset = 0;       // low rank: dim * rank floats
    size_t bias_offset = 0;    // dim floats
    int dim = 0;               // D = interaction vectors x embedding_dim
    int rank = 0;              // 0: full rank
    // The layer's floats are [begin(), end()) (weight or v first, bias last; padding included).
    size_t begin() const { return rank == 0 ? weight_offset : v_offset; }
    size_t end() const { return bias_offset + size_t(dim); }
  };
  std::vector<Layer> bottom;
  std::vector<Cross> cross;  // dcn only
  std::vector<Layer> top;
  size_t total_floats = 0;  // buffer size, a multiple of 16

  static DenseLayout for_config(const ModelConfig& config);
};

}  // namespace shadowsync
