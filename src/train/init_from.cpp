// Starting a run from a trained model's checkpoint (see init_from.hpp).
#include "train/init_from.hpp"

#include <cstring>
#include <filesystem>

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "train/checkpoint.hpp"
#include "train/checkpoint_header.hpp"
#include "train/replica_math.hpp"

namespace shadowsync::train {
namespace {

// The dense optimizer's state means what it means only for the same optimizer (Adagrad's
// accumulators; SGD keeps none).
void check_same_optimizer(const nlohmann::json& header, const TrainConfig& config, const std::string& where) {
  if (!header.contains("train") || !header.at("train").is_object() || !header.at("train").contains("optimizer")) return;
  const nlohmann::json& optimizer = header.at("train").at("optimizer");
  if (!optimizer.is_object() || !optimizer.contains("dense")) return;
  const std::string saved = json_string(optimizer, "dense", where + ": train: optimizer");
  const std::string asked = OptimizerConfig::name(config.optimizer.dense);
  if (saved != asked) {
    throw Error(where + ": checkpoint was trained with the dense optimizer " + json_brief(saved) + ", this run asks for " +
                asked + " (its optimizer state would not carry over; use the same " + field("optimizer") + ")");
  }
}

// Errors of the reader name the file ("checkpoint 'PATH': ..."); prefixed with the field.
template <typename F>
auto naming_field(const std::string& where, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    if (e.marked().starts_with(where)) throw;
    throw Error(field("init_from") + ": " + e.marked());
  }
}

}  // namespace

InitSource::InitSource(const TrainConfig& config)
    : path_(config.init_from), where_(field("init_from") + " '" + config.init_from + "'") {
  naming_field(where_, [&] {
    reader_ = std::make_unique<CheckpointReader>(path_);
    reader_->refuse_unknown_sections(kTrainerCheckpointSections);
    header_ = reader_->json("header");
    const ModelConfig saved = ModelConfig::from_json(json_field(header_, "model", where_), where_ + ": model");
    check_same_model(saved, config.model, where_);
    check_same_optimizer(header_, config, where_);
    check_same_rows(header_, config.embedding_precision, where_);
    return 0;
  });
}

InitSource::~InitSource() = default;

std::vector<InitOrigin> InitSource::load_into(TrainState& state) const {
  return naming_field(where_, [&] {
    const CheckpointReader& reader = *reader_;
    const std::string& where = where_;
    const nlohmann::json& header = header_;
    const uint64_t replicas = json_uint(header, "replicas", 1, kMaxCheckpointReplicas, where);
    const uint64_t examples = header.contains("examples") ? json_uint(header, "examples", 0, UINT64_MAX, where) : 0;
    std::vector<InitOrigin> chain = init_chain_from_header(header, where);
    std::string fingerprint;
    if (header.contains("data") && header.at("data").is_object() && header.at("data").contains("fingerprint")) {
      fingerprint = json_string(header.at("data"), "fingerprint", where + ": data");
    }

    // Sizes first (the model is this run's, so the tables' sizes are this state's), then contents.
    const size_t n = state.dense_floats();
    const uint64_t dense_bytes = replicas * n * sizeof(float);  // replicas <= 4096, n is this run's
    reader.expect_bytes("replicas", dense_bytes);
    reader.expect_bytes("dense_state", dense_bytes);
    EmbeddingStore& tables = state.embeddings();
    std::vector<std::pair<float*, size_t>> table_parts, accumulator_parts;
    for (int t = 0; t < tables.hashing().tables(); ++t) {
      table_parts.emplace_back(tables.table_words_data(t), tables.table_words(t));
      accumulator_parts.emplace_back(tables.accumulator(t), tables.rows(t));
    }
    uint64_t table_bytes = 0, accumulator_bytes = 0;
    for (const auto& [data, count] : table_parts) table_bytes += count * sizeof(float);
    for (const auto& [data, count] : accumulator_parts) accumulator_bytes += count * sizeof(float);
    reader.expect_bytes("embeddings", table_bytes);
    reader.expect_bytes("embedding_state", accumulator_bytes);

    // The mean replica and the mean optimizer state, into every replica of this run.
    std::vector<float> saved_floats(replicas * n);
    std::vector<const float*> parts;
    for (uint64_t r = 0; r < replicas; ++r) parts.push_back(saved_floats.data() + r * n);
    reader.read_floats("replicas", saved_floats.data(), saved_floats.size());
    mean_of_replicas(parts, n, state.replica(0));
    reader.read_floats("dense_state", saved_floats.data(), saved_floats.size());
    mean_of_replicas(parts, n, state.optimizer_state(0));
    for (int r = 1; r < state.replica_count(); ++r) {
      std::memcpy(state.replica(r), state.replica(0), n * sizeof(float));
      std::memcpy(state.optimizer_state(r), state.optimizer_state(0), n * sizeof(float));
    }
    reader.read_float_parts("embeddings", table_parts);
    reader.read_float_parts("embedding_state", accumulator_parts);

    std::error_code error;
    const std::filesystem::path absolute = std::filesystem::absolute(path_, error);
    chain.push_back(InitOrigin{error ? path_ : absolute.lexically_normal().string(), examples,
                               reader.content_checksum(), fingerprint});
    return chain;
  });
}

}  // namespace shadowsync::train
