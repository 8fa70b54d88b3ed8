// TrainedModel: the model a checkpoint holds, ready for evaluation and prediction (the mean of
// the checkpoint's replicas, and its embedding tables).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/train_state.hpp"

namespace shadowsync {

class TrainedModel {
 public:
  // Reads and validates `checkpoint_path` (see checkpoint.hpp); Error names the file and what is
  // wrong with it (also the header field). Unknown or duplicate sections are refused, and every
  // section size the header implies is checked before any buffer is allocated for it, so a small
  // hostile file cannot make this allocate more than the file itself justifies.
  // Fuzzing entry point: write the bytes to a temporary file and call load(path); every bad
  // input must end in shadowsync::Error.
  static TrainedModel load(const std::string& checkpoint_path);

  const Model& model() const { return *model_; }
  const float* dense() const { return dense_->data(); }
  const EmbeddingStore& embeddings() const { return state_->embeddings(); }
  const HashingConfig& hashing() const { return model_->config().hashing; }
  // The columns of the data the model was trained on (the checkpoint's model "schema"; Criteo's
  // layout for a checkpoint written before schemas were stored). Read text data with it.
  const FeatureSchema& schema() const { return model_->config().schema; }
  // Throws Error unless data of `data_schema` (Dataset::schema()) is what this model reads:
  // "checkpoint 'm.ckpt' was trained on data of another schema (checkpoint vs data 'x.cache':
  // column 4: C3 (categorical) vs tags (multi_hot))", the first column that differs.
  void check_data_schema(const FeatureSchema& data_schema, const std::string& data_name) const;
  uint64_t examples_trained() const { return examples_; }
  // The checkpoints this model was started from (init_chain.hpp), oldest first; empty for a
  // model trained from its seed (and for checkpoints written before chains were recorded).
  const std::vector<InitOrigin>& init_chain() const { return init_chain_; }

 private:
  std::unique_ptr<Model> model_;
  std::unique_ptr<AlignedFloatBuffer> dense_;
  std::unique_ptr<TrainState> state_;  // the checkpoint's replicas and tables (model parts)
  uint64_t examples_ = 0;
  std::vector<InitOrigin> init_chain_;
  std::string path_;
};

}  // namespace shadowsync
