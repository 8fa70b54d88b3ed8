// The header of a training checkpoint: what identifies the run (model, sync method, groups,
// batch, data) and how far each group got. Written by the engine at every checkpoint, checked
// field by field before a resume touches anything (see checkpoint.hpp for the field list).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/train_config.hpp"
#include "shadowsync/train/train_state.hpp"
#include "train/group_share.hpp"

namespace shadowsync::train {

// The data a run trains on, as recorded in its checkpoints.
struct DataIdentity {
  uint64_t train_rows = 0;
  uint64_t eval_rows = 0;
  std::string fingerprint;  // data_fingerprint(train rows)
};

// `init_chain` (init_chain.hpp) is written as field "init_chain" when not empty.
nlohmann::json make_checkpoint_header(const TrainConfig& config, int groups, const TrainState& state,
                                      const DataIdentity& data, const std::vector<InitOrigin>& init_chain = {});

// How a checkpoint's rounds combined the optimizer state (header "sync_optimizer_state"; absent
// in checkpoints written before the setting existed: none). Error naming `where` for another value.
OptimizerStateSync checkpoint_optimizer_state_sync(const nlohmann::json& header, const std::string& where);
// The shared-replica warm-up a checkpoint's run had (header "train"."sync_warmup"; absent in
// checkpoints written before the warm-up existed: 0). Error naming `where` for a value that is not
// a number in [0, 1).
double checkpoint_sync_warmup(const nlohmann::json& header, const std::string& where);
// Error unless the checkpoint's setting is `run`: "<where>: checkpoint was trained with
// sync_optimizer_state none, this run asks for sum (resume with the same sync_optimizer_state: none)".
void check_same_optimizer_state_sync(const nlohmann::json& header, OptimizerStateSync run, const std::string& where);

// Error unless a checkpoint's model (`saved`) is this run's: the schema first (naming the first
// column that differs), then the hashing (rows per table, salt), then the rest of the model.
// Messages start with `where`.
void check_same_model(const ModelConfig& saved, const ModelConfig& run, const std::string& where);

// The row format of a checkpoint's tables (header "embedding_precision"; absent in checkpoints
// written before bf16 rows: fp32). Error naming `where` for another value.
RowFormat checkpoint_row_format(const nlohmann::json& header, const std::string& where);
// Error unless the checkpoint's row format is `run`'s: "<where>: checkpoint holds bf16 embedding
// rows, this run asks for fp32 (... the same embedding_precision)".
void check_same_rows(const nlohmann::json& header, RowFormat run, const std::string& where);

// Checks a checkpoint's header against this run (same model, hashing, sync method, groups,
// replicas, batch, dense size, data and evaluation split; progress a consistent prefix of each
// group's share) and returns each group's progress. Every message starts with `where` and names
// the field; nothing of the run is touched. `fingerprint` is called only when the row counts
// match (it reads every training row).
std::vector<GroupProgressState> check_resume_header(const nlohmann::json& header, const TrainConfig& config,
                                                    const std::vector<GroupShare>& shares, int replicas,
                                                    size_t dense_floats, uint64_t train_rows, uint64_t eval_rows,
                                                    const std::function<const std::string&()>& fingerprint,
                                                    const std::string& where);

}  // namespace shadowsync::train
