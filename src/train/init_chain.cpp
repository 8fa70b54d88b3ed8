// The chain of checkpoints a model was started from, in checkpoint headers (see
// include/shadowsync/train/init_chain.hpp).
#include "shadowsync/train/init_chain.hpp"

#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "train/checkpoint.hpp"

namespace shadowsync {

nlohmann::json InitOrigin::to_json() const {
  return {{"path", path}, {"examples_trained", examples_trained}, {"checksum", checksum},
          {"data_fingerprint", data_fingerprint}};
}

std::vector<InitOrigin> init_chain_from_header(const nlohmann::json& header, const std::string& where) {
  std::vector<InitOrigin> chain;
  if (!header.is_object() || !header.contains("init_chain")) return chain;
  const nlohmann::json& list = header.at("init_chain");
  if (!list.is_array()) throw Error(where + ": field 'init_chain' must be an array, got " + json_brief(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + ": init_chain[" + std::to_string(i) + "]";
    InitOrigin o;
    o.path = json_string(list[i], "path", at);
    o.examples_trained = json_uint(list[i], "examples_trained", 0, UINT64_MAX, at);
    o.checksum = json_string(list[i], "checksum", at);
    o.data_fingerprint = json_string(list[i], "data_fingerprint", at);
    chain.push_back(std::move(o));
  }
  return chain;
}

nlohmann::json init_chain_to_json(const std::vector<InitOrigin>& chain) {
  nlohmann::json out = nlohmann::json::array();
  for (const InitOrigin& o : chain) out.push_back(o.to_json());
  return out;
}

ModelConfig init_from_model_config(const std::string& path) {
  const std::string where = field("init_from") + " '" + path + "'";
  try {
    CheckpointReader reader(path);
    const nlohmann::json header = reader.json("header");
    return ModelConfig::from_json(json_field(header, "model", where), where + ": model");
  } catch (const Error& e) {
    if (e.marked().starts_with(where)) throw;
    throw Error(field("init_from") + ": " + e.marked());
  }
}

}  // namespace shadowsync
