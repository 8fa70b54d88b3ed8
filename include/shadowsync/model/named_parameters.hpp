// Named parameters: every parameter tensor of a model, by the name that exported models (ONNX
// initializers, PyTorch module parameters) give it, with its shape and where its floats live.
// The one place that maps DenseLayout offsets and embedding tables to names, so every exporter
// agrees on them.
//
// Names, in this order:
//   bottom.<l>.weight [out, in], bottom.<l>.bias [out]  for each bottom layer l (none without
//                                                         numeric columns)
//   embedding.<t>.weight [rows_t, embedding_dim]         for each table t (categorical, then
//                                                         multi-hot columns)
//   cross.<l>.weight [D, D] (full rank) or                for each dcn cross layer l (none for
//     cross.<l>.v [r, D], cross.<l>.u [D, r] (low rank),  dot and cat): p = x W^T + b or
//     then cross.<l>.bias [D]                             p = (x V^T) U^T + b, x_{l+1} = x0 * p + x_l
//   top.<l>.weight [out, in], top.<l>.bias [out]         for each top layer l
// Weights are (out x in) row-major, as nn.Linear's. Rows of a 2-D tensor are `row_stride`
// floats apart (the embedding store pads rows; dense tensors are packed: row_stride = columns).
// Values are always fp32: a table of bf16 rows is delivered as an owned fp32 copy (exactly its
// values widened, packed: row_stride = embedding_dim), kept alive by the NamedTensor itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"

namespace shadowsync {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;  // 1 or 2 dimensions
  const float* data = nullptr;
  int64_t row_stride = 0;  // floats between rows (2-D); the element count for 1-D
  std::shared_ptr<const std::vector<float>> owned;  // the floats `data` points into, when a copy

  int64_t elements() const {
    int64_t n = 1;
    for (const int64_t s : shape) n *= s;
    return n;
  }
  // The tensor's floats, packed (row_stride dropped).
  std::vector<float> packed() const;
};

// The parameters of `model` whose dense replica is `dense` (layout().total_floats floats) and
// whose tables are `embeddings` (the model's hashing and embedding_dim, else Error). The
// pointers alias `dense` and `embeddings` (fp32 rows) or an owned copy (bf16 rows).
std::vector<NamedTensor> named_parameters(const Model& model, const float* dense, const EmbeddingStore& embeddings);

}  // namespace shadowsync
