// Loading a checkpoint for inference (see include/shadowsync/train/trained_model.hpp).
#include "shadowsync/train/trained_model.hpp"

#include <cstdint>
#include <vector>

#include "shadowsync/train/train_state.hpp"
#include "train/checkpoint.hpp"
#include "shadowsync/core/error.hpp"
#include "train/checkpoint_header.hpp"
#include "train/replica_math.hpp"

namespace shadowsync {

namespace {

// a * b, or Error when it does not fit in 64 bits (only a hostile header gets there).
uint64_t checked_product(uint64_t a, uint64_t b, const std::string& where) {
  uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) throw Error(where + ": header implies more than 2^64 bytes");
  return out;
}

}  // namespace

TrainedModel TrainedModel::load(const std::string& checkpoint_path) {
  const std::string where = "checkpoint '" + checkpoint_path + "'";
  CheckpointReader reader(checkpoint_path);
  reader.refuse_unknown_sections(kTrainerCheckpointSections);
  const nlohmann::json header = reader.json("header");
  TrainedModel out;
  out.path_ = checkpoint_path;
  out.model_ = std::make_unique<Model>(ModelConfig::from_json(json_field(header, "model", where), where + ": model"));
  const uint64_t replicas = json_uint(header, "replicas", 1, kMaxCheckpointReplicas, where);
  if (header.contains("examples")) out.examples_ = json_uint(header, "examples", 0, UINT64_MAX, where);
  out.init_chain_ = init_chain_from_header(header, where);
  const ModelConfig& config = out.model_->config();
  const size_t n = out.model_->layout().total_floats;

  // Every size the header implies is checked before anything is allocated for it.
  reader.expect_bytes("replicas", checked_product(checked_product(replicas, n, where), sizeof(float), where));
  const RowFormat rows = train::checkpoint_row_format(header, where);
  const uint64_t stride = EmbeddingStore::stride_for_dim(config.embedding_dim);
  uint64_t embedding_bytes = 0;
  for (int t = 0; t < config.hashing.tables(); ++t) {
    // Whole 4-byte words of rows x stride elements (embedding_store.hpp).
    const uint64_t elements = checked_product(config.hashing.rows[t], stride, where);
    const uint64_t element_bytes = checked_product(elements, EmbeddingStore::element_bytes(rows), where);
    if (element_bytes > UINT64_MAX - 3) throw Error(where + ": header implies more than 2^64 bytes");
    const uint64_t table = (element_bytes + 3) / 4 * 4;
    if (__builtin_add_overflow(embedding_bytes, table, &embedding_bytes)) {
      throw Error(where + ": header implies more than 2^64 bytes");
    }
  }
  reader.expect_bytes("embeddings", embedding_bytes);

  // The replicas and the tables, read through the one TrainState load (model parts only).
  out.state_ = std::make_unique<TrainState>(*out.model_, static_cast<int>(replicas), TrainState::Parts::Model,
                                            [](int) -> MemoryResource& { return default_memory(); }, default_memory(),
                                            rows);
  out.state_->load(reader, where, "");
  out.dense_ = std::make_unique<AlignedFloatBuffer>(n);
  train::mean_of_replicas(out.state_->const_replica_pointers(), n, out.dense_->data());
  return out;
}

void TrainedModel::check_data_schema(const FeatureSchema& data_schema, const std::string& data_name) const {
  if (const std::string d = schema().first_difference(data_schema); !d.empty()) {
    throw Error("checkpoint '" + path_ + "' was trained on data of another schema (checkpoint vs data '" + data_name +
                "': " + d + ")");
  }
}

}  // namespace shadowsync
