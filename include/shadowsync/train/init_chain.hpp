// The chain of checkpoints a model was started from (TrainConfig::init_from: the next day's
// training from the previous day's model), oldest first. A run started from checkpoint C records
// C's own chain followed by C itself in header field "init_chain" of every checkpoint it writes
// (a resumed run keeps it); a run from the seed records none. Readers of checkpoints written
// before the field existed see an empty chain, and older builds ignore the field (no format
// version change: nothing they read changed meaning).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/model/model_config.hpp"

namespace shadowsync {

struct InitOrigin {
  std::string path;              // the checkpoint's absolute path when it was read
  uint64_t examples_trained = 0;  // the examples it had trained (its header's "examples")
  std::string checksum;          // its contents: 16 hex digits over its sections' checksums
  std::string data_fingerprint;  // the fingerprint of the data it was trained on ("" if not recorded)

  nlohmann::json to_json() const;
  bool operator==(const InitOrigin&) const = default;
};

// The chain in a checkpoint header (empty when the header has no "init_chain"); Error naming
// `where` and the field for a malformed one.
std::vector<InitOrigin> init_chain_from_header(const nlohmann::json& header, const std::string& where);
nlohmann::json init_chain_to_json(const std::vector<InitOrigin>& chain);

// The model configuration (schema, hashing, layers) of the checkpoint at `path`, read from its
// header only (every section's checksum is still checked). What a run started from it builds
// when no model is asked for. Error names field("init_from") and the file.
ModelConfig init_from_model_config(const std::string& path);

}  // namespace shadowsync
