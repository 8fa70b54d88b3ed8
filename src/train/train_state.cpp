// TrainState: allocation, initialization, and the one save and load of its sections (see
// include/shadowsync/train/train_state.hpp).
#include "shadowsync/train/train_state.hpp"

#include <cstring>

#include "shadowsync/core/error.hpp"
#include "train/checkpoint.hpp"

namespace shadowsync {

TrainState::TrainState(const Model& model, int replicas, Parts parts,
                       const std::function<MemoryResource&(int replica)>& replica_memory,
                       MemoryResource& table_memory, RowFormat rows)
    : dense_floats_(model.layout().total_floats), embedding_state_(parts == Parts::Everything) {
  for (int r = 0; r < replicas; ++r) {
    MemoryResource& memory = replica_memory(r);
    replicas_.emplace_back(dense_floats_, memory);
    if (parts == Parts::Everything) optimizer_state_.emplace_back(dense_floats_, memory);
  }
  embeddings_ = std::make_unique<EmbeddingStore>(model.config().hashing, model.config().embedding_dim, rows, table_memory);
}

void TrainState::initialize(const Model& model, uint64_t seed) {
  model.init_dense(replicas_[0].data(), seed);
  for (size_t r = 1; r < replicas_.size(); ++r) {
    std::memcpy(replicas_[r].data(), replicas_[0].data(), dense_floats_ * sizeof(float));
  }
  model.init_embeddings(*embeddings_, seed);
}

std::vector<float*> TrainState::replica_pointers() {
  std::vector<float*> out;
  for (AlignedFloatBuffer& r : replicas_) out.push_back(r.data());
  return out;
}

std::vector<float*> TrainState::optimizer_state_pointers() {
  std::vector<float*> out;
  for (AlignedFloatBuffer& s : optimizer_state_) out.push_back(s.data());
  return out;
}

std::vector<const float*> TrainState::const_replica_pointers() const {
  std::vector<const float*> out;
  for (const AlignedFloatBuffer& r : replicas_) out.push_back(r.data());
  return out;
}

std::vector<TrainState::Section> TrainState::sections() const {
  // const_cast: the same list serves save (reads) and load (writes into this state's buffers).
  auto* self = const_cast<TrainState*>(this);
  std::vector<Section> out;
  Section replicas{"replicas", {}};
  for (AlignedFloatBuffer& r : self->replicas_) replicas.parts.emplace_back(r.data(), dense_floats_);
  out.push_back(std::move(replicas));
  Section dense_state{"dense_state", {}};
  for (AlignedFloatBuffer& s : self->optimizer_state_) dense_state.parts.emplace_back(s.data(), dense_floats_);
  out.push_back(std::move(dense_state));
  Section embeddings{"embeddings", {}};
  Section embedding_state{"embedding_state", {}};
  // One part per table of the model's schema (feature order: feature_schema.hpp).
  for (int t = 0; t < embeddings_->hashing().tables(); ++t) {
    // A table's block as 4-byte words: fp32 rows, or bf16 rows (two halves per word).
    embeddings.parts.emplace_back(self->embeddings_->table_words_data(t), embeddings_->table_words(t));
    if (embedding_state_) embedding_state.parts.emplace_back(self->embeddings_->accumulator(t), embeddings_->rows(t));
  }
  out.push_back(std::move(embeddings));
  out.push_back(std::move(embedding_state));
  out.push_back(Section{"sync_state", sync_state_});
  return out;
}

void TrainState::save(const std::string& path, const nlohmann::json& header) const {
  if (optimizer_state_.empty()) throw Error("internal: a model-only state cannot be saved as a checkpoint");
  CheckpointWriter writer(path);
  writer.add_json("header", header);
  for (const Section& section : sections()) {
    if (section.parts.empty() && section.name == "sync_state") continue;  // a rule without state
    std::vector<std::pair<const float*, size_t>> parts(section.parts.begin(), section.parts.end());
    writer.add_float_parts(section.name, parts);
  }
  writer.commit();
}

void TrainState::load(const CheckpointReader& reader, const std::string& where,
                      const std::string& what_has_no_sync_state) {
  const std::vector<Section> all = sections();
  // Every size first (sync_state is checked exactly when it is read), then the contents.
  for (const Section& section : all) {
    if (section.parts.empty() || std::string_view(section.name) == "sync_state") continue;
    uint64_t bytes = 0;
    for (const auto& [data, count] : section.parts) bytes += count * sizeof(float);
    reader.expect_bytes(section.name, bytes);
  }
  for (const Section& section : all) {
    if (!section.parts.empty()) {
      reader.read_float_parts(section.name, section.parts);
    } else if (embedding_state_ && std::string_view(section.name) == "sync_state" && reader.has("sync_state")) {
      // (A model-only state ignores the training sections, sync_state included.)
      throw Error(where + ": section 'sync_state' is not used by " + what_has_no_sync_state);
    }
  }
}

}  // namespace shadowsync
