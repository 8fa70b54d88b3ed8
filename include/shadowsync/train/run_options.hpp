// The one table of run options (what `shadowsync train` and shadowsync.train take): each option's
// field name, type, default, allowed values, help text, layer and the front ends that offer it.
// Front ends build their flags (the CLI: --threads-per-group), keywords (Python:
// threads_per_group=), help and docstrings from it, read each given value through it (one type and
// range check, one message) and store it into RunSettings. Library code: it names fields, never
// flags; front ends spell them (core/error.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "shadowsync/train/train_config.hpp"

namespace shadowsync {

// How a value is given: Flag (true/false; the CLI's flag takes no value), Integer and Real (in
// [low, high], or (low, ...) / ..., high) when low_open / high_open), Text (checked when it is
// applied: sync, model, optimizer, ...), Choice (one of `choices`), AutoOrInteger ("auto" or an
// integer in [low, high]), Byte (one byte; also "tab" or "\t"), Callback (a function of the
// front end's language; the Python front end checks it).
enum class OptionType { Flag, Integer, Real, Text, Choice, AutoOrInteger, Byte, Callback };

// What an option configures: the data reading, the model, the placement of groups and threads,
// the sync between groups, the engine's run (epochs, evaluation, checkpoints), the sync across the
// processes of an mpirun run (mpi front end), or only how a front end reports the run.
enum class OptionLayer { Data, Model, Placement, Sync, Engine, Hosts, FrontEnd };
const char* layer_name(OptionLayer layer);

// The front ends that offer an option (a bit set): the command line, the Python package, and the
// multi-host launcher (runs under mpirun; the CLI is its front end, Python has no mpirun runs).
enum FrontEnds : unsigned { kCli = 1u, kPython = 2u, kMpi = 4u, kCliAndPython = kCli | kPython };

// A value as a front end read it: a flag, an integer (negative ones as int64_t), a real or text.
using OptionValue = std::variant<bool, int64_t, uint64_t, double, std::string>;

struct RunSettings;

struct RunOption {
  std::string name;          // the field name (threads_per_group)
  OptionType type = OptionType::Text;
  OptionLayer layer = OptionLayer::Engine;
  unsigned front_ends = kCliAndPython;
  std::string default_text;  // the default as help shows it ("128", "auto", "0.1", "tab")
  long double low = 0, high = 0;  // Integer, Real, AutoOrInteger (long double: exact for 64-bit integers)
  bool low_open = false, high_open = false;
  std::string choices;       // Choice: the allowed words, separated by ", "
  std::string help;          // with field() marks where it names another option (front ends spell them)
  // Stores a checked value into the settings.
  void (*apply)(RunSettings&, const OptionValue&) = nullptr;

  bool offered_by(FrontEnds front_end) const { return (front_ends & front_end) != 0; }
  // What a value must be, as errors and help say it: "an integer in [1, 1048576]".
  std::string expected() const;
  // Reads a value given as text (the command line): the type and range checked, as check().
  OptionValue parse_text(const std::string& text) const;
  // Throws Error "FIELD expects EXPECTED, got SHOWN" (with ": DETAIL" when given) naming this
  // option; SHOWN is the value as the user wrote it (0, 'fast').
  [[noreturn]] void refuse(std::string_view shown, std::string_view detail = {}) const;
  // Checks a typed value against the type and range (refuse() otherwise); returns it normalized
  // (an AutoOrInteger "auto" as int64_t 0, a Byte as its one-byte text).
  OptionValue check(const OptionValue& value, std::string_view shown) const;
};

// Every run option, in the order help lists them.
std::span<const RunOption> run_options();
// The option named `name`, or nullptr.
const RunOption* find_run_option(std::string_view name);
// The option named `name` (it must exist).
const RunOption& run_option(std::string_view name);
// Throws the option's error when `value` lies outside its range (for validate() of configs
// filled in by code rather than through the table).
void check_in_range(std::string_view name, long double value);

// Everything a run is made of besides its data: the engine's TrainConfig, the data reading, the
// eval split, and the values of front-end options (by name, checked; each front end reads its own).
struct RunSettings {
  TrainConfig config;
  std::string model = "small";  // preset or JSON file, resolved once the data's hashing is known
  // Data reading.
  std::optional<uint64_t> rows_per_table;  // unset: the cache's, or sized to the data
  uint64_t hash_salt = 0;
  bool strict = false;
  char delimiter = '\t';
  // The eval split: the held-out tail of the data (unset: 0.1 without eval data) and the
  // evaluation period (unset: TrainConfig::default_eval_every with eval_fraction, else 0).
  std::optional<double> eval_fraction;
  std::optional<uint64_t> eval_every;
  // Values of options of the Hosts and FrontEnd layers, by field name.
  std::map<std::string, OptionValue, std::less<>> front_end;

  // Sets option `name` (known to the table) to `value`, checked (Error naming it otherwise).
  void set(std::string_view name, const OptionValue& value, std::string_view shown);
  void set_text(std::string_view name, const std::string& text);
  bool has(std::string_view name) const { return given_.contains(std::string(name)); }

  // A front-end option's value, or `fallback` when it was not given.
  template <typename T>
  T front_end_value(std::string_view name, T fallback) const {
    const auto it = front_end.find(name);
    return it == front_end.end() ? fallback : std::get<T>(it->second);
  }

 private:
  std::map<std::string, bool, std::less<>> given_;
};

}  // namespace shadowsync
