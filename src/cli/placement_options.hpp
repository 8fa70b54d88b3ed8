// Parsers of the command line's placement option values (--groups, --threads-per-group,
// --group-by) into numa::PlacementOptions fields. Errors name the configuration field with
// field() (see shadowsync/core/error.hpp), so the CLI shows the flag.
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/numa/plan.hpp"

namespace shadowsync::cli {

// "auto" -> 0, an integer in [1, numa::PlacementOptions::kMaxCount] -> itself; anything else
// throws Error "FIELD: 'VALUE' is not valid; expected 'auto' or a positive integer (1..1048576)"
// with `field_name` (e.g. "groups", "threads_per_group") marked as a field.
int parse_count_option(std::string_view field_name, const std::string& value);

// "socket" | "numa"; anything else throws Error "group_by: 'VALUE' is not valid; expected
// 'socket' or 'numa'" (group_by marked as a field).
numa::GroupBy parse_group_by(const std::string& value);

}  // namespace shadowsync::cli
