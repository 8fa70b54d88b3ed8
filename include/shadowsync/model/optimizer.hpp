// OptimizerConfig: how a training step updates the parameters. Dense parameters: plain SGD or
// Adagrad (per-element accumulator in a buffer with the dense layout). Embedding rows: always
// row-wise Adagrad (one accumulator per row, as DLRM / FBGEMM): s += mean(g^2) over the row,
// row -= emb_lr * g / (sqrt(s) + eps), applied only to the rows a batch touched, with the
// gradients of repeated rows in a batch summed first.
//
// Defaults (dense Adagrad lr 0.01, embedding lr 0.05) were chosen on the planted-teacher test
// (tests/model/training_test.cpp, small model, one pass, batch 64): NE 0.665 against the
// teacher's 0.632; lr 0.01-0.03 with emb_lr 0.02-0.1 all gave 0.665-0.675, lr 0.003 was slower
// (0.70). They are in the usual range for DLRM with Adagrad.
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

  // "sgd" / "adagrad"; throws Error naming the field optimizer and listing the valid values.
  static DenseOptimizer parse(std::string_view text);
  static std::string name(DenseOptimizer optimizer);
};

}  // namespace shadowsync
