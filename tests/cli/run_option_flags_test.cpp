// The flags of `shadowsync train` come from the run option table (src/cli/run_option_flags.hpp,
// shadowsync/train/run_options.hpp): every entry the command line offers is a flag with the
// table's help and default, nothing else is; values are read through the table, one message.
#include "cli/run_option_flags.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "cli/flag_names.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {
namespace {

struct TrainFlags {
  CLI::App app{"test"};
  RunSettings settings;
  std::vector<std::string> data;
  TrainFlags() { add_run_option_flags(app, settings, data); }

  // Parses `args` (after the program name); returns the CLI's message of an Error ("" if none).
  std::string parse(std::vector<std::string> args) {
    args.insert(args.begin(), "shadowsync");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const Error& e) {
      return e.message(flag_for_field);
    }
    return "";
  }
};

TEST(RunOptionFlags, EveryTableEntryIsAFlagWithItsHelpAndDefault) {
  TrainFlags t;
  std::set<std::string> expected_flags;
  for (const RunOption& o : run_options()) {
    const std::string flag = flag_for_field(o.name);
    if (!o.offered_by(kCli) && !o.offered_by(kMpi)) {
      EXPECT_THROW(t.app.get_option(flag), CLI::OptionNotFound) << flag << " is not a command-line option";
      continue;
    }
    expected_flags.insert(flag);
    const CLI::Option* option = t.app.get_option(flag);
    ASSERT_NE(option, nullptr) << flag;
    EXPECT_FALSE(o.help.empty()) << o.name;
    EXPECT_EQ(option->get_description(), spell_fields(o.help, flag_for_field)) << flag;
    if (o.type == OptionType::Flag) {
      TrainFlags given;  // takes no value: the next word is the next flag
      EXPECT_EQ(given.parse({"--data", "x", flag, "--batch", "64"}), "") << flag;
      EXPECT_EQ(given.settings.config.batch, 64) << flag;
      EXPECT_EQ(o.default_text, "false") << o.name;
    } else {
      EXPECT_EQ(option->get_default_str(), o.default_text) << flag;
    }
    // The help line shows what a value must be (its range), as the error says it.
    const std::string help = t.app.help();
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
    if (!o.default_text.empty() && o.type != OptionType::Flag) {
      EXPECT_NE(help.find(flag + " " + flag_type_name(o) + "=" + o.default_text), std::string::npos)
          << flag << "\n" << help;
    }
  }
  // No flag besides the table's (and --help).
  std::set<std::string> flags;
  for (const CLI::Option* option : t.app.get_options()) {
    if (option->get_name() != "--help") flags.insert(option->get_name());
  }
  EXPECT_EQ(flags, expected_flags);
}

TEST(RunOptionFlags, ValuesAreCheckedByTheTableWithItsMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--batch", "0"}, "--batch expects an integer in [1, 1048576], got 0"},
      {{"--batch", "x"}, "--batch expects an integer in [1, 1048576], got 'x'"},
      {{"--hash-salt", "-1"}, "--hash-salt expects an integer in [0, 18446744073709551615], got -1"},
      {{"--hash-salt", "18446744073709551616"},
       "--hash-salt expects an integer in [0, 18446744073709551615], got 18446744073709551616"},
      {{"--rows-per-table", "1"}, "--rows-per-table expects an integer in [2, 1073741824], got 1"},
      {{"--sync-round-iterations", "0"}, "--sync-round-iterations expects an integer in [1, 1073741824], got 0"},
      {{"--sync-interval-ms", "soon"}, "--sync-interval-ms expects 'auto' or an integer in [0, 2147483647], got 'soon'"},
      {{"--groups", "0"}, "--groups expects 'auto' or an integer in [1, 1048576], got 0"},
      {{"--group-by", "core"}, "--group-by expects 'socket' or 'numa', got 'core'"},
      {{"--eval-fraction", "1"}, "--eval-fraction expects a number in [0, 1), got 1"},
      {{"--lr", "0"}, "--lr expects a number > 0, got 0"},
      {{"--progress-seconds", "nan"}, "--progress-seconds expects a number >= 0, got nan"},
      {{"--host-alpha", "2"}, "--host-alpha expects a number in (0, 1], got 2"},
      {{"--sync-optimizer-state", "max"}, "--sync-optimizer-state expects 'none' or 'sum' or 'mean', got 'max'"},
      {{"--delimiter", "ab"}, "--delimiter expects one byte ('tab' or '\\t' for a tab, ',' for CSV), got 'ab'"},
  };
  for (const auto& [args, message] : cases) {
    TrainFlags t;
    std::vector<std::string> full = {"--data", "x"};
    full.insert(full.end(), args.begin(), args.end());
    EXPECT_EQ(t.parse(full), message) << args[0];
  }
}

TEST(RunOptionFlags, ValuesReachTheSettings) {
  TrainFlags t;
  ASSERT_EQ(t.parse({"--data", "a", "b", "--batch", "64", "--groups", "auto", "--threads-per-group", "3",
                     "--group-by", "numa", "--sync-interval-ms", "0", "--hash-salt", "18446744073709551615",
                     "--delimiter", ",", "--strict", "--classic-momentum", "--eval-fraction", "0", "--quiet",
                     "--host-sync-timeout-s", "2.5", "--alpha", "0.5", "--sync-optimizer-state", "sum"}),
            "");
  EXPECT_EQ(t.data, (std::vector<std::string>{"a", "b"}));
  const TrainConfig& c = t.settings.config;
  EXPECT_EQ(c.batch, 64);
  EXPECT_EQ(c.placement.groups, 0);
  EXPECT_EQ(c.placement.threads_per_group, 3);
  EXPECT_EQ(c.placement.group_by, numa::GroupBy::Numa);
  EXPECT_EQ(c.sync_interval_ms, 0);
  EXPECT_EQ(t.settings.hash_salt, 18446744073709551615ull);
  EXPECT_EQ(t.settings.delimiter, ',');
  EXPECT_TRUE(t.settings.strict);
  EXPECT_FALSE(c.nesterov);
  EXPECT_EQ(t.settings.eval_fraction, 0.0);
  EXPECT_TRUE(t.settings.front_end_value<bool>("quiet", false));
  EXPECT_EQ(t.settings.front_end_value<double>("host_sync_timeout_s", 0), 2.5);
  EXPECT_EQ(c.alpha, 0.5f);
  EXPECT_EQ(c.sync_optimizer_state, OptimizerStateSync::Sum);
  // Not given: the defaults of TrainConfig, which the table's default texts describe.
  TrainFlags d;
  ASSERT_EQ(d.parse({"--data", "a"}), "");
  EXPECT_EQ(d.settings.config.sync_interval_ms, TrainConfig::kAutoSyncInterval);
  EXPECT_FALSE(d.settings.config.sync_optimizer_state.has_value());
  EXPECT_EQ(d.settings.config.to_json()["sync_optimizer_state"], run_option("sync_optimizer_state").default_text);
  for (const char* name : {"batch", "epochs", "seed", "sync_every", "sync_round_iterations", "sync_threads"}) {
    const nlohmann::json j = d.settings.config.to_json();
    EXPECT_EQ(j[name].dump(), run_option(name).default_text) << name;
  }
}

}  // namespace
}  // namespace shadowsync::cli
