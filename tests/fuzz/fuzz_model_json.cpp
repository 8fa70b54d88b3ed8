// Fuzz target: the model description (ModelConfig) from JSON text, both as a parsed value
// (from_json) and as a model file (from_json_file). A configuration that is accepted must be
// buildable (validate passes) and survive to_json/from_json unchanged; a bad one must be
// refused with shadowsync::Error (a nlohmann exception escaping is a finding).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model_config.hpp"

using namespace shadowsync;

namespace {

void check_accepted(const ModelConfig& config) {
  try {
    config.validate("fuzz");
    if (!(ModelConfig::from_json(config.to_json(), "fuzz round trip") == config)) {
      fuzz::fail("to_json/from_json changed an accepted model configuration");
    }
  } catch (const Error& e) {
    fuzz::fail(std::string("an accepted model configuration does not validate: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("model", ".json"));
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      check_accepted(ModelConfig::from_json(j, "fuzz.json"));
    } catch (const Error&) {
    }
  }
  fuzz::write_file(scratch.path(), data, size);
  try {
    check_accepted(ModelConfig::from_json_file(scratch.path(), HashingConfig::uniform(1000, 7)));
  } catch (const Error&) {
  }
  return 0;
}
