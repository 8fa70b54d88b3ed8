// DenseLayout: where every dense parameter (each MLP weight and bias) lives inside the one
// contiguous float buffer that is a dense replica. The same layout describes a replica, its
// Adagrad state and a dense gradient, so the sync rules can treat them as flat float arrays.
//
// Contract:
//  - every tensor starts at a 64-byte-aligned offset (a multiple of 16 floats) from the buffer
//    start; the buffer itself is 64-byte aligned (AlignedFloatBuffer); the gaps are zero and stay
//    zero (their gradient is zero);
//  - order: bottom layers (weight, bias) in order, then top layers (weight, bias);
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
  std::vector<Layer> bottom;
  std::vector<Layer> top;
  size_t total_floats = 0;  // buffer size, a multiple of 16

  static DenseLayout for_config(const ModelConfig& config);
};

}  // namespace shadowsync
