// Fuzz target: the generator's spec (SyntheticSpec, `gen --schema FILE.json`) from JSON text, as a
// parsed value (from_json) and as a file (from_file). An accepted spec must validate, survive
// to_json/from_json unchanged and draw rows that format to lines of its schema's field count; a
// bad one must be refused with shadowsync::Error (a nlohmann exception escaping is a finding).
#include <algorithm>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"
#include "synthetic/schema_rows.hpp"

using namespace shadowsync;

namespace {

void check_accepted(const SyntheticSpec& spec) {
  try {
    spec.validate("fuzz");
    if (!(SyntheticSpec::from_json(spec.to_json(), "fuzz round trip") == spec)) {
      fuzz::fail("to_json/from_json changed an accepted synthetic spec");
    }
    const synthetic::SchemaRowSampler sampler(spec);
    synthetic::Rng rng(7);
    synthetic::SchemaRow row;
    for (int i = 0; i < 4; ++i) {
      sampler.sample(rng, row);
      std::string line;
      sampler.append_line(line, i & 1, row);
      if (line.empty() || line.back() != '\n') fuzz::fail("a synthetic line does not end in a newline");
      if (std::count(line.begin(), line.end(), spec.delimiter) != spec.schema.field_count() - 1) {
        fuzz::fail("a synthetic line has another field count than its schema");
      }
    }
  } catch (const Error& e) {
    fuzz::fail(std::string("an accepted synthetic spec does not validate or sample: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("synthetic_spec", ".json"));
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      check_accepted(SyntheticSpec::from_json(j, "fuzz.json"));
    } catch (const Error&) {
    }
  }
  fuzz::write_file(scratch.path(), data, size);
  try {
    check_accepted(SyntheticSpec::from_file(scratch.path()));
  } catch (const Error&) {
  }
  return 0;
}
