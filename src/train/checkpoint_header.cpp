// Writing and checking the header of a training checkpoint (see checkpoint_header.hpp).
#include "train/checkpoint_header.hpp"

#include "shadowsync/core/error.hpp"
#include "train/checkpoint.hpp"

namespace shadowsync::train {

nlohmann::json make_checkpoint_header(const TrainConfig& config, int groups, const TrainState& state,
                                      const DataIdentity& data, const std::vector<InitOrigin>& init_chain) {
  nlohmann::json header;
  header["format"] = "shadowsync checkpoint";
  header["model"] = config.model.to_json();
  header["train"] = config.to_json();
  header["sync"] = config.sync.name();
  // How rounds combined the optimizer state (sync_state then holds its base b with sum).
  header["sync_optimizer_state"] = optimizer_state_sync_name(config.optimizer_state_sync());
  header["groups"] = groups;
  header["replicas"] = state.replica_count();
  header["dense_floats"] = state.dense_floats();
  header["batch"] = config.batch;
  header["embedding_precision"] = row_format_name(state.embeddings().format());
  header["data"] = {{"train_rows", data.train_rows}, {"eval_rows", data.eval_rows}, {"fingerprint", data.fingerprint}};
  nlohmann::json progress = nlohmann::json::array();
  uint64_t examples = 0;
  for (const GroupProgressState& p : state.progress) {
    progress.push_back({{"batches", p.batches}, {"examples", p.examples}, {"iterations", p.iterations}, {"syncs", p.syncs}});
    examples += p.examples;
  }
  header["progress"] = progress;
  header["examples"] = examples;
  if (!init_chain.empty()) header["init_chain"] = init_chain_to_json(init_chain);
  return header;
}

namespace {

// The data a checkpoint was trained on (header "data") must be this run's, or resuming would
// train some rows twice and others never. Checkpoints written before this was recorded are
// refused: they cannot be resumed exactly (eval and predict still read them).
void check_data(const nlohmann::json& header, uint64_t train_rows, uint64_t eval_rows,
                const std::function<const std::string&()>& fingerprint, const std::string& where) {
  if (!header.is_object() || !header.contains("data")) {
    throw Error(where + ": checkpoint does not record which data it was trained on (written by an older "
                "shadowsync), so it cannot be resumed exactly; start a new run (eval and predict still read it)");
  }
  const nlohmann::json& data = header.at("data");
  const std::string at = where + ": data";
  const uint64_t saved_train = json_uint(data, "train_rows", 1, UINT64_MAX, at);
  const uint64_t saved_eval = json_uint(data, "eval_rows", 0, UINT64_MAX, at);
  const std::string saved_fingerprint = json_string(data, "fingerprint", at);
  const std::string saved = "checkpoint was trained on " + std::to_string(saved_train) + " rows with " +
                            std::to_string(saved_eval) + " held out (fingerprint " + json_brief(saved_fingerprint) + ")";
  if (saved_train != train_rows || saved_eval != eval_rows) {
    throw Error(where + ": " + saved + "; this run has " + std::to_string(train_rows) + " rows with " +
                std::to_string(eval_rows) + " held out (resume with the same " + field("data") + " and " +
                field("eval_fraction") + ")");
  }
  if (saved_fingerprint != fingerprint()) {
    throw Error(where + ": " + saved + "; this run has as many rows but other data (fingerprint \"" + fingerprint() +
                "\"; resume with the same " + field("data") + ")");
  }
}

}  // namespace

RowFormat checkpoint_row_format(const nlohmann::json& header, const std::string& where) {
  if (!header.is_object() || !header.contains("embedding_precision")) return RowFormat::Fp32;
  const std::string text = json_string(header, "embedding_precision", where);
  if (text == "fp32") return RowFormat::Fp32;
  if (text == "bf16") return RowFormat::Bf16;
  throw Error(where + ": field 'embedding_precision' must be fp32 or bf16, got " + json_brief(text));
}

void check_same_rows(const nlohmann::json& header, RowFormat run, const std::string& where) {
  const RowFormat saved = checkpoint_row_format(header, where);
  if (saved != run) {
    throw Error(where + ": checkpoint holds " + row_format_name(saved) + " embedding rows, this run asks for " +
                row_format_name(run) + " (use the same " + field("embedding_precision") + " as the checkpoint: " +
                row_format_name(saved) + ")");
  }
}

OptimizerStateSync checkpoint_optimizer_state_sync(const nlohmann::json& header, const std::string& where) {
  if (!header.is_object() || !header.contains("sync_optimizer_state")) return OptimizerStateSync::None;
  const std::string text = json_string(header, "sync_optimizer_state", where);
  if (const std::optional<OptimizerStateSync> mode = optimizer_state_sync_named(text)) return *mode;
  throw Error(where + ": field 'sync_optimizer_state' must be none, sum or mean, got " + json_brief(text));
}

double checkpoint_sync_warmup(const nlohmann::json& header, const std::string& where) {
  if (!header.is_object() || !header.contains("train") || !header["train"].is_object() ||
      !header["train"].contains("sync_warmup")) {
    return 0.0;
  }
  const nlohmann::json& value = header["train"]["sync_warmup"];
  if (!value.is_number() || !(value.get<double>() >= 0.0 && value.get<double>() < 1.0)) {
    throw Error(where + ": field 'train.sync_warmup' must be a number in [0, 1), got " + json_brief(value));
  }
  return value.get<double>();
}

void check_same_optimizer_state_sync(const nlohmann::json& header, OptimizerStateSync run, const std::string& where) {
  const OptimizerStateSync saved = checkpoint_optimizer_state_sync(header, where);
  if (saved != run) {
    throw Error(where + ": checkpoint was trained with " + field("sync_optimizer_state") + " " +
                optimizer_state_sync_name(saved) + ", this run asks for " + optimizer_state_sync_name(run) +
                " (resume with the same " + field("sync_optimizer_state") + ": " + optimizer_state_sync_name(saved) +
                ")");
  }
}

void check_same_model(const ModelConfig& saved, const ModelConfig& run, const std::string& where) {
  // The data's columns first: another schema also has other tables, which the hashing check
  // below would report less clearly.
  if (const std::string d = saved.schema.first_difference(run.schema); !d.empty()) {
    throw Error(where + ": checkpoint was trained on data of another schema (checkpoint vs this run's " +
                field("data") + ": " + d + ")");
  }
  if (!(saved.hashing == run.hashing)) {
    throw Error(where + ": checkpoint was written with other hashing parameters (rows per table or "
                "salt differ from this run's " + field("rows_per_table") + " / " + field("hash_salt") +
                ": checkpoint vs this run: " + saved.differences(run) + ")");
  }
  if (!(saved == run)) {
    throw Error(where + ": checkpoint is for another model (checkpoint vs this run's " + field("model") + ": " +
                saved.differences(run) + ")");
  }
}

std::vector<GroupProgressState> check_resume_header(const nlohmann::json& header, const TrainConfig& config,
                                                    const std::vector<GroupShare>& shares, int replicas,
                                                    size_t dense_floats, uint64_t train_rows, uint64_t eval_rows,
                                                    const std::function<const std::string&()>& fingerprint,
                                                    const std::string& where) {
  const int groups = static_cast<int>(shares.size());
  const ModelConfig saved = ModelConfig::from_json(json_field(header, "model", where), where + ": model");
  check_same_model(saved, config.model, where);
  check_same_rows(header, config.embedding_precision, where);
  const std::string saved_sync = json_string(header, "sync", where);
  if (saved_sync != config.sync.name()) {
    bool known = true;  // a method name is printed as is, anything else quoted and cut short
    try {
      SyncMethod::parse(saved_sync);
    } catch (const Error&) {
      known = false;
    }
    throw Error(where + ": checkpoint was trained with " + (known ? saved_sync : json_brief(saved_sync)) +
                ", asked for " + config.sync.name() + " (resume with the same " + field("sync") + ")");
  }
  check_same_optimizer_state_sync(header, config.optimizer_state_sync(), where);
  const uint64_t saved_groups = json_uint(header, "groups", 1, kMaxCheckpointReplicas, where);
  const uint64_t saved_replicas = json_uint(header, "replicas", 1, kMaxCheckpointReplicas, where);
  if (saved_groups != static_cast<uint64_t>(groups) || saved_replicas != static_cast<uint64_t>(replicas)) {
    throw Error(where + ": checkpoint has " + std::to_string(saved_groups) + " groups and " +
                std::to_string(saved_replicas) + " replicas; this run has " + std::to_string(groups) + " groups and " +
                std::to_string(replicas) + " replicas (same " + field("groups") + " and " + field("sync") + " needed)");
  }
  const uint64_t saved_batch = json_uint(header, "batch", 1, INT32_MAX, where);
  if (saved_batch != static_cast<uint64_t>(config.batch)) {
    throw Error(where + ": checkpoint was trained with " + field("batch") + " " + std::to_string(saved_batch) +
                "; resume with the same batch size");
  }
  const uint64_t saved_floats = json_uint(header, "dense_floats", 1, UINT64_MAX, where);
  if (saved_floats != dense_floats) {
    throw Error(where + ": header says " + std::to_string(saved_floats) + " dense floats, this model has " +
                std::to_string(dense_floats));
  }
  check_data(header, train_rows, eval_rows, fingerprint, where);

  // Progress: a prefix of each group's batches, so examples follow from batches exactly.
  const nlohmann::json& progress = json_field(header, "progress", where);
  if (!progress.is_array() || progress.size() != static_cast<size_t>(groups)) {
    throw Error(where + ": field 'progress' must be an array of " + std::to_string(groups) + " group records, got " +
                json_brief(progress) + (progress.is_array() ? " of " + std::to_string(progress.size()) : ""));
  }
  std::vector<GroupProgressState> out;
  uint64_t saved_examples = 0;
  const uint64_t batch = static_cast<uint64_t>(config.batch);
  for (int g = 0; g < groups; ++g) {
    const GroupShare& share = shares[static_cast<size_t>(g)];
    const nlohmann::json& p = progress[static_cast<size_t>(g)];
    const std::string at = where + ": progress[" + std::to_string(g) + "]";
    GroupProgressState r;
    r.batches = json_uint(p, "batches", 0, share.total_batches, at);
    r.examples = json_uint(p, "examples", 0, share.rows.rows() * static_cast<uint64_t>(config.epochs), at);
    const uint64_t implied = (r.batches / share.batches_per_epoch) * share.rows.rows() +
                             (r.batches % share.batches_per_epoch) * batch;
    if (r.examples != implied) {
      throw Error(at + ": " + std::to_string(r.examples) + " examples, but " + std::to_string(r.batches) +
                  " batches of " + std::to_string(batch) + " over this group's " + std::to_string(share.rows.rows()) +
                  " rows are " + std::to_string(implied));
    }
    r.iterations = json_uint(p, "iterations", 0, share.total_batches, at);
    r.syncs = json_uint(p, "syncs", 0, uint64_t{1} << 62, at);
    saved_examples += r.examples;
    out.push_back(r);
  }
  if (json_uint(header, "examples", 0, UINT64_MAX, where) != saved_examples) {
    throw Error(where + ": field 'examples' is not the sum of the groups' progress (" + std::to_string(saved_examples) +
                ")");
  }
  return out;
}

}  // namespace shadowsync::train
