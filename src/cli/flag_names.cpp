// flag_for_field: the default spelling (--name, underscores as dashes) and its exceptions.
#include "flag_names.hpp"

#include <map>

namespace shadowsync::cli {

std::string flag_for_field(std::string_view field) {
  // Fields whose flag is not the field name with dashes (keep sorted).
  static const std::map<std::string, std::string, std::less<>> kExceptions = {
  };
  if (const auto it = kExceptions.find(field); it != kExceptions.end()) return it->second;
  std::string flag = "--" + std::string(field);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

}  // namespace shadowsync::cli
