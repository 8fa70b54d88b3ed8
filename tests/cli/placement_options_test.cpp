// parse_count_option / parse_group_by (src/cli/placement_options.hpp): the values of --groups,
// --threads-per-group and --group-by, and their errors as the command line shows them.
#include "cli/placement_options.hpp"

#include <gtest/gtest.h>

#include <string>

#include "cli/flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {
namespace {

using numa::GroupBy;

std::string cli_message(const Error& e) { return e.message(flag_for_field); }

TEST(PlacementOptions, ParseCounts) {
  EXPECT_EQ(parse_count_option("groups", "auto"), 0);
  EXPECT_EQ(parse_count_option("groups", "7"), 7);
  EXPECT_EQ(parse_count_option("threads_per_group", "1"), 1);
  EXPECT_EQ(parse_count_option("threads_per_group", "1048576"), 1048576);
  for (const std::string bad : {"0", "-1", "abc", "3x", "", " 2", "99999999999", "1048577"}) {
    try {
      parse_count_option("threads_per_group", bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      // Integers are shown as given, other text quoted (the run option table's message).
      const bool integer = bad == "0" || bad == "-1" || bad == "1048577" || bad == "99999999999";
      const std::string shown = integer ? bad : "'" + bad + "'";
      EXPECT_EQ(cli_message(e), "--threads-per-group expects 'auto' or an integer in [1, 1048576], got " + shown);
      EXPECT_EQ(std::string(e.what()), "threads_per_group expects 'auto' or an integer in [1, 1048576], got " + shown);
    }
  }
}

TEST(PlacementOptions, ParseGroupBy) {
  EXPECT_EQ(parse_group_by("socket"), GroupBy::Socket);
  EXPECT_EQ(parse_group_by("numa"), GroupBy::Numa);
  try {
    parse_group_by("core");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(cli_message(e), "--group-by expects 'socket' or 'numa', got 'core'");
    EXPECT_EQ(std::string(e.what()), "group_by expects 'socket' or 'numa', got 'core'");
  }
}

}  // namespace
}  // namespace shadowsync::cli
