// Loading a checkpoint for inference (see include/shadowsync/trained_model.hpp).
#include "shadowsync/trained_model.hpp"

#include <vector>

#include "shadowsync/checkpoint.hpp"
#include "shadowsync/error.hpp"
#include "train/replica_math.hpp"

namespace shadowsync {

TrainedModel TrainedModel::load(const std::string& checkpoint_path) {
  CheckpointReader reader(checkpoint_path);
  const nlohmann::json header = reader.json("header");
  TrainedModel out;
  size_t replicas = 0;
  try {
    out.model_ = std::make_unique<Model>(ModelConfig::from_json(header.at("model"), checkpoint_path));
    replicas = header.at("replicas").get<size_t>();
    out.examples_ = header.value("examples", uint64_t{0});
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint '" + checkpoint_path + "': header is incomplete (" + e.what() + ")");
  }
  if (replicas == 0 || replicas > 4096) {
    throw Error("checkpoint '" + checkpoint_path + "': header says " + std::to_string(replicas) + " replicas");
  }
  const size_t n = out.model_->layout().total_floats;
  std::vector<AlignedFloatBuffer> buffers;
  std::vector<std::pair<float*, size_t>> parts;
  for (size_t r = 0; r < replicas; ++r) buffers.emplace_back(n);
  for (AlignedFloatBuffer& b : buffers) parts.emplace_back(b.data(), n);
  reader.read_float_parts("replicas", parts);
  std::vector<const float*> pointers;
  for (const AlignedFloatBuffer& b : buffers) pointers.push_back(b.data());
  out.dense_ = std::make_unique<AlignedFloatBuffer>(n);
  train::mean_of_replicas(pointers, n, out.dense_->data());

  const ModelConfig& config = out.model_->config();
  out.embeddings_ = std::make_unique<EmbeddingStore>(config.hashing, config.embedding_dim);
  parts.clear();
  for (int t = 0; t < kNumSparse; ++t) parts.emplace_back(out.embeddings_->table_data(t), out.embeddings_->table_floats(t));
  reader.read_float_parts("embeddings", parts);
  return out;
}

}  // namespace shadowsync
