// OptimizerConfig: how a training step updates the parameters. Dense parameters: plain SGD or
// Adagrad (per-element accumulator in a buffer with the dense layout). Embedding rows: always
// row-wise Adagrad (one accumulator per row, as DLRM / FBGEMM): s += mean(g^2) over the row,
// row -= emb_lr * g / (sqrt(s) + eps), applied only to the rows a batch touched, with the
// gradients of repeated rows in a batch summed first.
//
// Defaults (dense Adagrad lr 0.01, embedding lr 0.05) train the tiny and small models to within
// a few percent of a planted teacher's NE in one pass (tests/model/training_test.cpp) and are in
// the usual range for DLRM with Adagrad.
#pragma once

#include <string>
#include <string_view>

namespace shadowsync {

enum class DenseOptimizer { Sgd, Adagrad };

struct OptimizerConfig {
  DenseOptimizer dense = DenseOptimizer::Adagrad;
  float lr = 0.01f;      // dense learning rate
  float emb_lr = 0.05f;  // embedding (row-wise Adagrad) learning rate
  float eps = 1e-8f;     // Adagrad denominator term

  // "sgd" / "adagrad"; throws Error naming --optimizer and listing the valid values.
  static DenseOptimizer parse(std::string_view text);
  static std::string name(DenseOptimizer optimizer);
};

}  // namespace shadowsync
