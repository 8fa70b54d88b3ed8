// Parsers of the command line's placement option values (--groups, --threads-per-group,
// --group-by) into numa::PlacementOptions fields. Errors name the configuration field with
// field() (see shadowsync/core/error.hpp), so the CLI shows the flag.
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/numa/plan.hpp"

namespace shadowsync::cli {

// "auto" -> 0, an integer in [1, numa::PlacementOptions::kMaxCount] -> itself; anything else
// throws the run option table's Error "FIELD expects 'auto' or an integer in [1, 1048576], got
// VALUE" with `field_name` (a run option: "groups", "threads_per_group") marked as a field.
int parse_count_option(std::string_view field_name, const std::string& value);

// "socket" | "numa"; anything else throws Error "group_by expects 'socket' or 'numa', got
// 'VALUE'" (group_by marked as a field).
numa::GroupBy parse_group_by(const std::string& value);

}  // namespace shadowsync::cli
