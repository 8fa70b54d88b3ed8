// Fuzz target: a feature schema from arbitrary bytes, as a schema file is read
// (parse_untrusted_json, FeatureSchema::from_json) and through the SchemaRequest resolution
// (--schema FILE; and the same bytes as a header line with the columns stated by options). A
// schema that is accepted must validate, survive to_json/from_json unchanged and equal itself
// under first_difference; everything else must be refused with shadowsync::Error (any other
// exception escaping is a finding).
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/data/feature_schema.hpp"
#include "shadowsync/data/schema_request.hpp"

using namespace shadowsync;

namespace {

void check_accepted(const FeatureSchema& schema) {
  try {
    schema.validate("fuzz");
  } catch (const Error& e) {
    fuzz::fail(std::string("an accepted schema does not validate: ") + e.what());
  }
  const FeatureSchema again = FeatureSchema::from_json(schema.to_json(), "fuzz round trip");
  if (!(again == schema)) fuzz::fail("to_json/from_json changed an accepted schema");
  if (!schema.first_difference(again).empty()) fuzz::fail("first_difference of equal schemas is not empty");
  if (schema.table_count() != hashing_for(schema, 8, 1).tables()) fuzz::fail("hashing_for has another table count");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fuzz::ScratchFile scratch(fuzz::scratch_path("schema", ".json"));
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = parse_untrusted_json(text, "fuzz.json");
    check_accepted(FeatureSchema::from_json(j, "fuzz.json"));
  } catch (const Error&) {
  }
  fuzz::write_file(scratch.path(), data, size);
  SchemaRequest from_file;
  from_file.schema_file = scratch.path();
  try {
    check_accepted(resolve_schema(from_file, std::nullopt, std::nullopt));
  } catch (const Error&) {
  }
  // The bytes as a header line: the first name the label, the second a multi-hot column, the
  // rest ignored (a name repeated, empty or with a control character is refused).
  const std::vector<std::string> names = split_fields(text.substr(0, text.find('\n')), ',');
  SchemaRequest stated;
  stated.header = true;
  stated.label = names[0];
  if (names.size() > 1) stated.multi_hot = {names[1] + ":|:4:mean"};
  for (size_t i = 2; i < names.size(); ++i) stated.ignore.push_back(names[i]);
  try {
    check_accepted(resolve_schema(stated, names, int(names.size())));
  } catch (const Error&) {
  }
  return 0;
}
