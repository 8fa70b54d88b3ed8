// ModelWorkspace: everything one worker thread needs to run the model: activations, gradient
// scratch, sort keys, all sized once for max_batch at construction (nothing is allocated or
// created in a step, except that the sort keys grow the first time a multi-hot feature of a
// batch has more ids than max_batch). Bound to the thread that constructs it: create and use it
// on one thread.
//
// Features: the model's schema (ModelConfig::schema) fixes the widths of the data it takes: N
// numeric features (the bottom MLP's input; none: no bottom MLP), S one-hot tables (one row per
// example) and M multi-hot tables (a list of rows per example, pooled by sum or mean as the
// schema says; an empty list is a zero vector). Data of other widths is refused (Error naming
// both). Backward: each row of a list gets the pooled vector's gradient (divided by the list's
// length for mean), summed per distinct (table, row) with the one-hot tables' rows, then the
// same row-wise Adagrad. Criteo's layout runs with compile-time widths (the fixed layout's
// loops).
//
// Kernels: every fully connected layer is a single-threaded oneDNN GEMM (dnnl_sgemm, row-major)
// on the replica's weights in place (layout in dense_layout.hpp); with Precision::Bf16 the
// chosen GEMMs take BF16 copies of their inputs instead, each rounded once per step (the
// weights in the forward pass and reused by the backward pass; precision.hpp,
// docs/precision.md); bias + ReLU, the interaction, BCE, the embedding gather / scatter and the
// optimizers are vectorized C++ (src/model/layers.*).
//
// Hogwild: train_step updates `dense`, `dense_state` and the touched embedding rows in place
// while other threads read and write the same buffers:
//  - row accumulators: relaxed std::atomic_ref<float> loads and stores;
//  - embedding rows: read by the gather and written by the row-wise update
//    (update_embedding_row in model_workspace.cpp) with plain vectorized loads and stores of the
//    rows' aligned values -- the same benign race as the dense parameters below (those two
//    functions are built without ThreadSanitizer instrumentation);
//  - dense parameters: read by oneDNN GEMMs and updated by the optimizer loop (adagrad_update /
//    sgd_update in src/model/layers.cpp) with plain vectorized loads and stores. This is a
//    deliberate, documented benign race (as in every Hogwild implementation on top of a BLAS):
//    aligned 4-byte floats are never torn on x86, a reader sees either the old or the new value,
//    and a lost update is the accepted Hogwild semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/optimizer.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {

// The gradient of the mean batch loss with respect to one embedding row (repeats summed).
struct SparseRowGrad {
  int table = 0;
  uint32_t row = 0;
  std::vector<float> grad;  // dim floats
};

class ModelWorkspace {
 public:
  // The Model must outlive the workspace. max_batch >= 1 (else Error). `precision` applies to
  // every step, prediction and gradient of this workspace; bf16 on a machine that cannot run it
  // natively: Error naming the field precision (require_precision_supported).
  ModelWorkspace(const Model& model, int max_batch, Precision precision = Precision::Fp32);
  ~ModelWorkspace();
  ModelWorkspace(const ModelWorkspace&) = delete;
  ModelWorkspace& operator=(const ModelWorkspace&) = delete;

  // One step: forward, backward, in-place update of `dense` (and its Adagrad state `dense_state`,
  // same layout; may be null for SGD) and row-wise Adagrad on only the embedding rows the batch
  // touched. Returns the batch's mean BCE loss, computed before the update. Requires
  // 1 <= batch.rows <= max_batch (0 rows: returns 0, changes nothing); throws Error for more rows,
  // widths other than the model's, a one-hot row or a list's id outside its table, or
  // decreasing bag_offsets.
  float train_step(DataView batch, float* dense, float* dense_state, EmbeddingStore& embeddings,
                   const OptimizerConfig& opt);
  // The same step, also prefetching (into L2) the embedding rows of `next`, the batch the caller
  // will train on next, while the top MLP's backward GEMMs run: its gather then finds them in
  // cache. `next` may be empty; its indices are not checked (a prefetch never faults; indices
  // outside a table are skipped; a `next` of other widths is not prefetched). Changes no value.
  float train_step(DataView batch, float* dense, float* dense_state, EmbeddingStore& embeddings,
                   const OptimizerConfig& opt, DataView next);

  // Logits of any number of rows (chunks of max_batch); logits_out has data.rows floats.
  void predict_logits(DataView data, const float* dense, const EmbeddingStore& embeddings,
                      float* logits_out);

  // For tests and tools: the mean BCE loss of the batch and its gradients, changing nothing.
  // dense_grad gets layout().total_floats floats (padding 0). emb_grads (if not null) is
  // replaced by one entry per touched (table, row), sorted by table then row.
  float loss_and_gradients(DataView batch, const float* dense, const EmbeddingStore& embeddings,
                           float* dense_grad, std::vector<SparseRowGrad>* emb_grads);

  int max_batch() const;
  Precision precision() const;

  // Bytes of the BF16 copies (weights, layer inputs, one output gradient) that a workspace of
  // `model` for `max_batch` examples holds besides its fp32 buffers: 0 for fp32. For estimates
  // of a run's memory before anything is allocated.
  static uint64_t bf16_copy_bytes(const Model& model, int max_batch, Precision precision);

 private:
  friend struct ModelWorkspaceTesting;  // tests: src/model/model_workspace_testing.hpp
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace shadowsync
