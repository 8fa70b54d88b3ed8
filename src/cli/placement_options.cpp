// parse_count_option / parse_group_by: the placement option values of the command line, read
// through the run option table (one check and message with `shadowsync train`).
#include "placement_options.hpp"

#include "shadowsync/train/run_options.hpp"

namespace shadowsync::cli {

int parse_count_option(std::string_view field_name, const std::string& value) {
  const OptionValue v = run_option(field_name).parse_text(value);
  return std::holds_alternative<std::string>(v) ? 0 : static_cast<int>(std::get<uint64_t>(v));
}

numa::GroupBy parse_group_by(const std::string& value) {
  return std::get<std::string>(run_option("group_by").parse_text(value)) == "numa" ? numa::GroupBy::Numa
                                                                                    : numa::GroupBy::Socket;
}

}  // namespace shadowsync::cli
