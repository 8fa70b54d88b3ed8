// parse_count_option / parse_group_by: the placement option values of the command line.
#include "placement_options.hpp"

#include <fmt/format.h>

#include <charconv>

#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {

int parse_count_option(std::string_view field_name, const std::string& value) {
  constexpr int kMaxCount = numa::PlacementOptions::kMaxCount;
  if (value == "auto") return 0;
  int result = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, error] = std::from_chars(value.data(), end, result);
  if (value.empty() || error != std::errc() || ptr != end || result < 1 || result > kMaxCount) {
    throw Error(fmt::format("{}: '{}' is not valid; expected 'auto' or a positive integer (1..{})",
                            field(field_name), value, kMaxCount));
  }
  return result;
}

numa::GroupBy parse_group_by(const std::string& value) {
  if (value == "socket") return numa::GroupBy::Socket;
  if (value == "numa") return numa::GroupBy::Numa;
  throw Error(fmt::format("{}: '{}' is not valid; expected 'socket' or 'numa'", field("group_by"), value));
}

}  // namespace shadowsync::cli
