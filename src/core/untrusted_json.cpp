// Untrusted JSON (see untrusted_json.hpp): the parser that bounds depth and refuses duplicate
// keys, short descriptions of values for messages, and typed field access.
#include "shadowsync/core/untrusted_json.hpp"

#include <set>
#include <string>
#include <vector>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& where) {
  using Event = nlohmann::json::parse_event_t;
  // Keys seen in each open container (arrays keep an unused empty set), outermost first.
  std::vector<std::set<std::string>> open;
  const nlohmann::json::parser_callback_t check = [&](int, Event event, nlohmann::json& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        if (open.size() >= kMaxJsonDepth) {
          throw Error(where + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
        }
        open.emplace_back();
        break;
      case Event::object_end:
      case Event::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case Event::key:
        if (!open.empty() && !open.back().insert(parsed.get_ref<const std::string&>()).second) {
          throw Error(where + ": duplicate key " + json_brief(parsed));
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& e) {
    std::string reason = e.what();
    if (reason.size() > 200) reason = reason.substr(0, 200) + "...";
    throw Error(where + ": invalid JSON: " + reason);
  }
}

std::string json_brief(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::null:
      return value.dump();
    case nlohmann::json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (text.size() <= 40) return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      return nlohmann::json(text.substr(0, 40)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "...";
    }
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    default:
      return "a binary value";
  }
}

const nlohmann::json& json_field(const nlohmann::json& object, std::string_view field, const std::string& where) {
  if (!object.is_object()) throw Error(where + ": must be a JSON object, got " + json_brief(object));
  const auto it = object.find(field);
  if (it == object.end()) throw Error(where + ": missing field '" + std::string(field) + "'");
  return *it;
}

uint64_t json_uint(const nlohmann::json& object, std::string_view field, uint64_t min, uint64_t max,
                   const std::string& where) {
  const nlohmann::json& value = json_field(object, field, where);
  // nlohmann stores every non-negative integer literal up to 2^64-1 as number_unsigned; negative
  // ones are number_integer, and fractions, exponents and larger values are floats.
  if (!value.is_number_unsigned() || value.get<uint64_t>() < min || value.get<uint64_t>() > max) {
    throw Error(where + ": field '" + std::string(field) + "' must be an integer in " + std::to_string(min) +
                ".." + std::to_string(max) + ", got " + json_brief(value));
  }
  return value.get<uint64_t>();
}

std::string json_string(const nlohmann::json& object, std::string_view field, const std::string& where) {
  const nlohmann::json& value = json_field(object, field, where);
  if (!value.is_string()) {
    throw Error(where + ": field '" + std::string(field) + "' must be a string, got " + json_brief(value));
  }
  return value.get<std::string>();
}

}  // namespace shadowsync
