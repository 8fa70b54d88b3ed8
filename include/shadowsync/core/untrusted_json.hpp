// Untrusted JSON (model files, checkpoint headers and sections): a parser that bounds what a
// document can do, short descriptions of values for messages, and typed field access whose
// errors name the source and the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shadowsync {

// parse_untrusted_json refuses nesting deeper than kMaxJsonDepth levels and an object with the
// same key twice, before either can do harm (deep recursion, a silently ignored value). Errors:
// "WHERE: invalid JSON: ...", "WHERE: JSON nested deeper than 64 levels", "WHERE: duplicate key
// \"k\"". Never echoes more than a few bytes of the document.
inline constexpr size_t kMaxJsonDepth = 64;
nlohmann::json parse_untrusted_json(std::string_view text, const std::string& where);
// A short description of a JSON value for messages: a number as written, a string quoted and cut
// to 40 characters, else its kind ("an object", "an array", ...). Never dumps a whole document.
std::string json_brief(const nlohmann::json& value);

// Typed field access (checkpoint headers, model files). `where` names the source and the object,
// e.g. "checkpoint 'x.ckpt'" or "resume 'x.ckpt': progress[1]"; messages read "WHERE: missing field 'F'" and
// "WHERE: field 'F' must be an integer in MIN..MAX, got V" (V short, never a dumped document).
// json_field: the member `field` of `object` (Error when absent or `object` is not an object).
const nlohmann::json& json_field(const nlohmann::json& object, std::string_view field, const std::string& where);
// json_uint: an integer field in min..max. Refuses a missing field, a string, a fraction, a
// negative number, a float such as 1e300 (even when integral) and anything outside min..max, so
// no out-of-range cast or counter wrap can follow.
uint64_t json_uint(const nlohmann::json& object, std::string_view field, uint64_t min, uint64_t max,
                   const std::string& where);
// json_string: a string field (Error naming it when missing or not a string).
std::string json_string(const nlohmann::json& object, std::string_view field, const std::string& where);

}  // namespace shadowsync
