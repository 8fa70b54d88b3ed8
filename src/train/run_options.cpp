// The table of run options (run_options.hpp): every option with its type, range, default, help
// and where it is stored; reading a value (text or typed) with one check and one message.
#include "shadowsync/train/run_options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/model/optimizer.hpp"
#include "shadowsync/model/precision.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/sync/sync_method.hpp"
#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {
namespace {

constexpr long double kInf = std::numeric_limits<long double>::infinity();
constexpr long double kMaxU64 = static_cast<long double>(std::numeric_limits<uint64_t>::max());

uint64_t u64(const OptionValue& v) { return std::get<uint64_t>(v); }
int int_of(const OptionValue& v) { return static_cast<int>(std::get<uint64_t>(v)); }
double real(const OptionValue& v) { return std::get<double>(v); }
const std::string& text(const OptionValue& v) { return std::get<std::string>(v); }
bool flag(const OptionValue& v) { return std::get<bool>(v); }
// An AutoOrInteger value: "auto" -> `automatic`, else the integer.
int auto_or(const OptionValue& v, int automatic) {
  return std::holds_alternative<std::string>(v) ? automatic : int_of(v);
}

// Options of the Hosts and FrontEnd layers have no apply: RunSettings keeps them by name.
constexpr void (*keep)(RunSettings&, const OptionValue&) = nullptr;

// The builders of the table's rows.
RunOption integer(std::string name, OptionLayer layer, long double low, long double high, std::string default_text,
                  std::string help, void (*apply)(RunSettings&, const OptionValue&)) {
  RunOption o;
  o.name = std::move(name);
  o.type = OptionType::Integer;
  o.layer = layer;
  o.low = low;
  o.high = high;
  o.default_text = std::move(default_text);
  o.help = std::move(help);
  o.apply = apply;
  return o;
}

RunOption real_option(std::string name, OptionLayer layer, long double low, bool low_open, long double high,
                      bool high_open, std::string default_text, std::string help,
                      void (*apply)(RunSettings&, const OptionValue&)) {
  RunOption o = integer(std::move(name), layer, low, high, std::move(default_text), std::move(help), apply);
  o.type = OptionType::Real;
  o.low_open = low_open;
  o.high_open = high_open;
  return o;
}

RunOption of_type(OptionType type, std::string name, OptionLayer layer, std::string default_text, std::string help,
                  void (*apply)(RunSettings&, const OptionValue&)) {
  RunOption o = integer(std::move(name), layer, 0, 0, std::move(default_text), std::move(help), apply);
  o.type = type;
  return o;
}

RunOption only(RunOption o, unsigned front_ends) {
  o.front_ends = front_ends;
  return o;
}

std::vector<RunOption> make_table() {
  using L = OptionLayer;
  using T = OptionType;
  constexpr long double kMaxCount = numa::PlacementOptions::kMaxCount;
  std::vector<RunOption> t;
  // Data reading.
  t.push_back(of_type(T::Text, "data", L::Data, "",
                      "Training data: Criteo TSV files (plain, gzip or zstd; - = standard input) or binary caches "
                      "from `convert`, trained in order as one dataset",
                      nullptr));
  t.push_back(of_type(T::Text, "eval_data", L::Data, "",
                      "Evaluation data (TSV or cache); default: the last " + field("eval_fraction") + " of the training data",
                      nullptr));
  t.push_back(real_option("eval_fraction", L::Data, 0, false, 1, true, "0.1",
                          "Held-out tail of the training data used for evaluation (0 = train on every row, "
                          "no evaluation)",
                          [](RunSettings& s, const OptionValue& v) { s.eval_fraction = real(v); }));
  t.push_back(integer("rows_per_table", L::Data, HashingConfig::kMinRowsPerTable, HashingConfig::kMaxRowsPerTable, "",
                      "Embedding rows per table (default: the cache's; for text files, sized to the data: twice the "
                      "rows each table uses, as a power of two, at most 131072; 131072 for standard input)",
                      [](RunSettings& s, const OptionValue& v) { s.rows_per_table = u64(v); }));
  t.push_back(integer("hash_salt", L::Data, 0, kMaxU64, "0", "Salt of the categorical hash",
                      [](RunSettings& s, const OptionValue& v) { s.hash_salt = u64(v); }));
  t.push_back(of_type(T::Flag, "strict", L::Data, "false", "Stop at the first bad input line instead of skipping it",
                      [](RunSettings& s, const OptionValue& v) { s.strict = flag(v); }));
  t.push_back(of_type(T::Byte, "delimiter", L::Data, "tab",
                      "Byte between the fields of text input: tab (also 'tab' or '\\t') or ',' for CSV",
                      [](RunSettings& s, const OptionValue& v) { s.delimiter = text(v).front(); }));
  // Model.
  t.push_back(of_type(T::Text, "model", L::Model, "small", "Preset (tiny, small, kaggle, dcn, dcn-mlperf) or a model JSON file",
                      [](RunSettings& s, const OptionValue& v) { s.model = text(v); }));
  t.push_back(of_type(T::Text, "optimizer", L::Model, "adagrad", "Dense optimizer: sgd or adagrad",
                      [](RunSettings& s, const OptionValue& v) { s.config.optimizer.dense = OptimizerConfig::parse(text(v)); }));
  t.push_back(of_type(T::Text, "precision", L::Model, "fp32",
                      "GEMM number format: fp32, or bf16 on CPUs with AVX512_BF16 or AMX (docs/precision.md)",
                      [](RunSettings& s, const OptionValue& v) { s.config.precision = parse_precision(text(v)); }));
  t.push_back(of_type(T::Text, "embedding_precision", L::Model, "fp32",
                      "Embedding row format: fp32, or bf16 (half the table bytes; fp32 Adagrad accumulators; "
                      "docs/precision.md)",
                      [](RunSettings& s, const OptionValue& v) { s.config.embedding_precision = parse_row_format(text(v)); }));
  t.push_back(of_type(T::Text, "embedding_rounding", L::Model, "stochastic",
                      "How updated bf16 rows are rounded: stochastic or nearest (ties to even); only with " +
                          field("embedding_precision") + " bf16",
                      [](RunSettings& s, const OptionValue& v) { s.config.embedding_rounding = parse_row_rounding(text(v)); }));
  t.push_back(real_option("lr", L::Model, 0, true, kInf, true, "0.01", "Dense learning rate",
                          [](RunSettings& s, const OptionValue& v) { s.config.optimizer.lr = static_cast<float>(real(v)); }));
  t.push_back(real_option("emb_lr", L::Model, 0, true, kInf, true, "0.05", "Embedding (row-wise Adagrad) learning rate",
                          [](RunSettings& s, const OptionValue& v) { s.config.optimizer.emb_lr = static_cast<float>(real(v)); }));
  // Placement.
  t.push_back(of_type(T::Text, "topology", L::Placement, "",
                      "hwloc synthetic description or XML file (default: this machine)",
                      [](RunSettings& s, const OptionValue& v) { s.config.topology = text(v); }));
  RunOption groups = integer("groups", L::Placement, 1, kMaxCount, "auto", "Trainer groups: auto (one per socket) or a number",
                             [](RunSettings& s, const OptionValue& v) { s.config.placement.groups = auto_or(v, 0); });
  groups.type = T::AutoOrInteger;
  t.push_back(groups);
  RunOption threads = integer("threads_per_group", L::Placement, 1, kMaxCount, "auto",
                              "Hogwild workers per group: auto (one per core) or a number",
                              [](RunSettings& s, const OptionValue& v) { s.config.placement.threads_per_group = auto_or(v, 0); });
  threads.type = T::AutoOrInteger;
  t.push_back(threads);
  RunOption group_by = of_type(T::Choice, "group_by", L::Placement, "socket", "One group per socket or per numa node",
                               [](RunSettings& s, const OptionValue& v) {
                                 s.config.placement.group_by = text(v) == "numa" ? numa::GroupBy::Numa : numa::GroupBy::Socket;
                               });
  group_by.choices = "socket, numa";
  t.push_back(group_by);
  t.push_back(of_type(T::Flag, "oversubscribe", L::Placement, "false", "Allow more threads than processing units",
                      [](RunSettings& s, const OptionValue& v) { s.config.placement.oversubscribe = flag(v); }));
  // The engine's run.
  t.push_back(integer("batch", L::Engine, 1, TrainConfig::kMaxBatch, "128", "Examples per worker step",
                      [](RunSettings& s, const OptionValue& v) { s.config.batch = int_of(v); }));
  t.push_back(integer("epochs", L::Engine, 1, 1000000, "1", "Passes over each group's share",
                      [](RunSettings& s, const OptionValue& v) { s.config.epochs = int_of(v); }));
  t.push_back(integer("seed", L::Engine, 0, kMaxU64, "1", "Initialization seed",
                      [](RunSettings& s, const OptionValue& v) { s.config.seed = u64(v); }));
  // Sync between the groups.
  t.push_back(of_type(T::Text, "sync", L::Sync, "s-pa", "Sync mode: " + SyncMethod::choices(),
                      [](RunSettings& s, const OptionValue& v) { s.config.sync = SyncMethod::parse(text(v)); }));
  t.push_back(integer("sync_every", L::Sync, 1, 1 << 30, "10",
                      "Foreground modes: sync after every k iterations of each worker",
                      [](RunSettings& s, const OptionValue& v) { s.config.sync_every = int_of(v); }));
  RunOption interval = integer(
      "sync_interval_ms", L::Sync, 0, std::numeric_limits<int>::max(), "auto",
      "Shadow modes: auto = rounds back to back when the sync thread has a spare processing unit, else one round "
      "per " + field("sync_round_iterations") + " iterations of each group; or N = N ms from one round's start to the next "
      "(0 = back to back)",
      [](RunSettings& s, const OptionValue& v) { s.config.sync_interval_ms = auto_or(v, TrainConfig::kAutoSyncInterval); });
  interval.type = T::AutoOrInteger;
  t.push_back(interval);
  t.push_back(integer("sync_round_iterations", L::Sync, 1, 1 << 30, "4",
                      "Shadow modes, auto pacing, no spare core: one round per this many iterations of each group",
                      [](RunSettings& s, const OptionValue& v) { s.config.sync_round_iterations = int_of(v); }));
  t.push_back(integer("sync_threads", L::Sync, 0, 4096, "1", "Shadow modes: background threads (0 = one per group)",
                      [](RunSettings& s, const OptionValue& v) { s.config.sync_threads = int_of(v); }));
  t.push_back(real_option("alpha", L::Sync, 0, true, 1, false, "", "EASGD elastic coefficient (default 0.9 / groups)",
                          [](RunSettings& s, const OptionValue& v) { s.config.alpha = static_cast<float>(real(v)); }));
  t.push_back(real_option("block_momentum", L::Sync, 0, false, 1, true, "",
                          "BMUF / PA block momentum eta (default BMUF 1 - 1/groups, PA 1 - 1/sqrt(groups))",
                          [](RunSettings& s, const OptionValue& v) { s.config.block_momentum = static_cast<float>(real(v)); }));
  t.push_back(real_option("block_lr", L::Sync, 0, true, kInf, true, "", "BMUF / PA block learning rate zeta (default 1)",
                          [](RunSettings& s, const OptionValue& v) { s.config.block_lr = static_cast<float>(real(v)); }));
  t.push_back(real_option("sync_warmup", L::Sync, 0, false, 1, true, "",
                          "Shadow modes: share of the run's training examples during which the groups train one shared "
                          "replica before they split into replicas and sync in the background (default with several "
                              "groups: " + fmt::format("{:g}", TrainConfig::kDefaultSyncWarmup) + " for s-pa and s-bmuf, " +
                              fmt::format("{:g}", TrainConfig::kDefaultSyncWarmupAveraging) +
                              " for s-ma and s-easgd; else 0)",
                          [](RunSettings& s, const OptionValue& v) { s.config.sync_warmup = real(v); }));
  t.push_back(of_type(T::Flag, "classic_momentum", L::Sync, "false", "BMUF / PA: classic instead of Nesterov block momentum",
                      [](RunSettings& s, const OptionValue& v) { s.config.nesterov = !flag(v); }));
  RunOption state_sync = of_type(
      T::Choice, "sync_optimizer_state", L::Sync, optimizer_state_sync_name(kDefaultOptimizerStateSync),
      "How sync rounds combine the groups' dense optimizer state (Adagrad accumulators): none (each keeps its "
      "own), sum (every accumulator becomes what one model seeing every group's gradients would hold) or mean; "
      "not with " + field("optimizer") + " sgd, which keeps none; fr-easgd leaves it alone (docs/sync.md)",
      [](RunSettings& s, const OptionValue& v) { s.config.sync_optimizer_state = parse_optimizer_state_sync(text(v)); });
  state_sync.choices = "none, sum, mean";
  t.push_back(state_sync);
  // Evaluation, checkpoints, stopping.
  t.push_back(integer("eval_every", L::Engine, 0, kMaxU64, "",
                      "Evaluate every N examples (0 = only at the end; default: with " + field("eval_fraction") + ", 8 evaluations "
                      "along the run, else only at the end)",
                      [](RunSettings& s, const OptionValue& v) { s.eval_every = u64(v); }));
  t.push_back(of_type(T::Text, "checkpoint", L::Engine, "", "Write checkpoints to this file",
                      [](RunSettings& s, const OptionValue& v) { s.config.checkpoint_path = text(v); }));
  t.push_back(integer("checkpoint_every", L::Engine, 0, kMaxU64, "0",
                      "Checkpoint every N examples as well as at the end (0 = only at the end)",
                      [](RunSettings& s, const OptionValue& v) { s.config.checkpoint_every = u64(v); }));
  t.push_back(of_type(T::Text, "resume", L::Engine, "", "Continue from this checkpoint",
                      [](RunSettings& s, const OptionValue& v) { s.config.resume_path = text(v); }));
  t.push_back(of_type(T::Text, "init_from", L::Engine, "",
                      "Start from the model of this checkpoint (its weights, tables and optimizer state; same schema, "
                      "hashing and model; default model and hashing: the checkpoint's) and train it on this data as a "
                      "new run (examples, epochs and checkpoints counted anew; not with " + field("resume") + ")",
                      [](RunSettings& s, const OptionValue& v) {
                        if (text(v).empty()) run_option("init_from").refuse("''", "a checkpoint path");
                        s.config.init_from = text(v);
                      }));
  t.push_back(integer("max_examples", L::Engine, 0, kMaxU64, "0",
                      "Stop (with a checkpoint) after about N examples (0 = no limit)",
                      [](RunSettings& s, const OptionValue& v) { s.config.max_examples = u64(v); }));
  t.push_back(of_type(T::Flag, "deterministic", L::Engine, "false",
                      "Bit-identical results for a seed (none and fr-* modes only)",
                      [](RunSettings& s, const OptionValue& v) { s.config.deterministic = flag(v); }));
  // Runs across processes (mpirun; docs/multi-host.md): the second level of shadow sync.
  t.push_back(only(integer("host_sync_interval_ms", L::Hosts, 0, 60000, "20",
                           "mpirun: ms from one inter-host round's start to the next (0 = back to back)", keep),
                   kMpi));
  t.push_back(only(real_option("host_sync_timeout_s", L::Hosts, 0.1L, false, 86400, false, "20",
                               "mpirun: longest wait for one inter-host round (a process died or hangs), then every "
                               "process aborts",
                               keep),
                   kMpi));
  t.push_back(only(real_option("host_first_round_timeout_s", L::Hosts, 0.1L, false, 86400, false, "120",
                               "mpirun: longest wait for the first inter-host round (the slowest process loads its data)",
                               keep),
                   kMpi));
  t.push_back(only(of_type(T::Flag, "host_dense_only", L::Hosts, "false",
                           "mpirun: synchronize only the dense model across processes (embedding tables then differ "
                           "per process)",
                           keep),
                   kMpi));
  t.push_back(only(real_option("host_alpha", L::Hosts, 0, true, 1, false, "",
                               "mpirun: EASGD elastic coefficient across processes (default 0.9 / processes)", keep),
                   kMpi));
  t.push_back(only(real_option("host_block_momentum", L::Hosts, 0, false, 1, true, "",
                               "mpirun: BMUF block momentum across processes (default 1 - 1/processes)", keep),
                   kMpi));
  t.push_back(only(real_option("host_block_lr", L::Hosts, 0, true, kInf, true, "",
                               "mpirun: BMUF block learning rate across processes (default 1)", keep),
                   kMpi));
  // How a front end reports the run.
  t.push_back(only(of_type(T::Text, "metrics", L::FrontEnd, "", "Write every report as a JSON line to this file", keep),
                   kCli));
  t.push_back(only(of_type(T::Flag, "quiet", L::FrontEnd, "false", "No progress lines", keep), kCli));
  t.push_back(real_option("progress_seconds", L::FrontEnd, 0, false, kInf, true, "",
                          "Seconds between progress reports (command line: 0 = automatic, the default, 0.5 on a "
                          "terminal and 5 otherwise; Python: default 5, 0 = no progress reports)",
                          keep));
  t.push_back(only(of_type(T::Flag, "verbose", L::FrontEnd, "false",
                           "Print progress, evaluations and checkpoints to standard error", keep),
                   kPython));
  t.push_back(only(of_type(T::Callback, "callback", L::FrontEnd, "",
                           "Called with a dict at each progress report, evaluation and at the end (the keys of the "
                           "metrics JSON lines)",
                           nullptr),
                   kPython));
  return t;
}

std::string number_text(long double x) {
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == std::floor(x) && x >= 0 && x <= kMaxU64) return fmt::format("{}", static_cast<uint64_t>(x));
  if (x == std::floor(x) && x < 0 && x >= -9.2e18L) return fmt::format("{}", static_cast<int64_t>(x));
  return fmt::format("{}", static_cast<double>(x));
}

// The words of a Choice option.
std::vector<std::string_view> words(std::string_view choices) {
  std::vector<std::string_view> out;
  while (!choices.empty()) {
    const size_t comma = choices.find(", ");
    out.push_back(choices.substr(0, comma));
    choices = comma == std::string_view::npos ? std::string_view() : choices.substr(comma + 2);
  }
  return out;
}

// One value of the range of an Integer / Real option: [low, high], (low, ...).
std::string range_text(const RunOption& o) {
  const std::string low = (o.low_open ? "(" : "[") + number_text(o.low);
  if (std::isinf(o.high)) return o.low_open ? "> " + number_text(o.low) : ">= " + number_text(o.low);
  return low + ", " + number_text(o.high) + (o.high_open ? ")" : "]");
}

bool in_range(const RunOption& o, long double x) {
  if (std::isnan(x)) return false;
  const bool above_low = o.low_open ? x > o.low : x >= o.low;
  const bool below_high = o.high_open ? x < o.high : x <= o.high;
  return above_low && below_high;
}

// Reads all of `text` as an integer (negative ones as int64_t); nullopt when it is not one.
std::optional<OptionValue> read_integer(const std::string& text) {
  const char* end = text.data() + text.size();
  if (!text.empty() && text.front() == '-') {
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec == std::errc() && ptr == end) return OptionValue(v);
    return std::nullopt;
  }
  uint64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc() && ptr == end) return OptionValue(v);
  return std::nullopt;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

}  // namespace

const char* layer_name(OptionLayer layer) {
  switch (layer) {
    case OptionLayer::Data: return "data";
    case OptionLayer::Model: return "model";
    case OptionLayer::Placement: return "placement";
    case OptionLayer::Sync: return "sync";
    case OptionLayer::Engine: return "engine";
    case OptionLayer::Hosts: return "hosts";
    case OptionLayer::FrontEnd: return "front end";
  }
  return "?";
}

std::span<const RunOption> run_options() {
  static const std::vector<RunOption> table = make_table();
  return table;
}

const RunOption* find_run_option(std::string_view name) {
  for (const RunOption& o : run_options()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

const RunOption& run_option(std::string_view name) {
  const RunOption* o = find_run_option(name);
  if (o == nullptr) throw Error(fmt::format("{}: not a run option", field(name)));
  return *o;
}

std::string RunOption::expected() const {
  switch (type) {
    case OptionType::Flag: return "True or False";
    case OptionType::Integer: return "an integer in " + range_text(*this);
    case OptionType::Real:
      return std::isinf(high) ? "a number " + range_text(*this) : "a number in " + range_text(*this);
    case OptionType::Text: return "a string";
    case OptionType::Choice: {
      std::string out;
      for (const std::string_view word : words(choices)) out += (out.empty() ? "" : " or ") + quoted(std::string(word));
      return out;
    }
    case OptionType::AutoOrInteger: return "'auto' or an integer in " + range_text(*this);
    case OptionType::Byte: return "one byte ('tab' or '\\t' for a tab, ',' for CSV)";
    case OptionType::Callback: return "a callable taking a dict";
  }
  return "?";
}

void RunOption::refuse(std::string_view shown, std::string_view detail) const {
  std::string message = fmt::format("{} expects {}, got {}", field(name), expected(), shown);
  if (!detail.empty()) message += fmt::format(": {}", detail);
  throw Error(message);
}

OptionValue RunOption::check(const OptionValue& value, std::string_view shown) const {
  switch (type) {
    case OptionType::Flag:
      if (!std::holds_alternative<bool>(value)) refuse(shown);
      return value;
    case OptionType::AutoOrInteger:
      if (const auto* s = std::get_if<std::string>(&value)) {
        if (*s == "auto") return value;
        refuse(shown);
      }
      [[fallthrough]];
    case OptionType::Integer: {
      long double x = 0;
      if (const auto* u = std::get_if<uint64_t>(&value)) x = static_cast<long double>(*u);
      else if (const auto* i = std::get_if<int64_t>(&value)) x = static_cast<long double>(*i);
      else refuse(shown);
      if (!in_range(*this, x)) refuse(shown);
      return OptionValue(static_cast<uint64_t>(x));  // every integer range starts at 0 or above
    }
    case OptionType::Real: {
      long double x = 0;
      if (const auto* d = std::get_if<double>(&value)) x = *d;
      else if (const auto* u = std::get_if<uint64_t>(&value)) x = static_cast<long double>(*u);
      else if (const auto* i = std::get_if<int64_t>(&value)) x = static_cast<long double>(*i);
      else refuse(shown);
      if (!std::isfinite(x) || !in_range(*this, x)) refuse(shown);
      return OptionValue(static_cast<double>(x));
    }
    case OptionType::Text:
      if (!std::holds_alternative<std::string>(value)) refuse(shown);
      return value;
    case OptionType::Choice: {
      const auto* s = std::get_if<std::string>(&value);
      if (s == nullptr) refuse(shown);
      for (const std::string_view word : words(choices)) {
        if (word == *s) return value;
      }
      refuse(shown);
    }
    case OptionType::Byte: {
      const auto* s = std::get_if<std::string>(&value);
      if (s == nullptr) refuse(shown);
      char byte = 0;
      if (*s == "tab" || *s == "\\t" || *s == "\t") byte = '\t';
      else if (s->size() == 1) byte = s->front();
      else refuse(shown);
      const std::string problem = delimiter_problem(byte);
      if (!problem.empty()) refuse(shown, problem);
      return OptionValue(std::string(1, byte));
    }
    case OptionType::Callback: refuse(shown);  // no value of the table's types is a callable
  }
  refuse(shown);
}

OptionValue RunOption::parse_text(const std::string& text) const {
  switch (type) {
    case OptionType::Flag:
      if (text == "true") return check(true, text);
      if (text == "false") return check(false, text);
      refuse(quoted(text));
    case OptionType::AutoOrInteger:
      if (text == "auto") return check(text, quoted(text));
      [[fallthrough]];
    case OptionType::Integer: {
      const std::optional<OptionValue> v = read_integer(text);
      // A whole number beyond 64 bits is out of range, shown as the number it is.
      const bool digits = text.find_first_not_of("0123456789", text.starts_with('-') ? 1 : 0) == std::string::npos;
      if (!v) refuse(digits && text != "-" && !text.empty() ? text : quoted(text));
      return check(*v, text);
    }
    case OptionType::Real: {
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) refuse(quoted(text));
      return check(v, text);
    }
    case OptionType::Text:
    case OptionType::Choice:
    case OptionType::Byte:
    case OptionType::Callback: return check(text, quoted(text));
  }
  refuse(quoted(text));
}

void check_in_range(std::string_view name, long double value) {
  const RunOption& o = run_option(name);
  if (!in_range(o, value) || (o.type == OptionType::Real && !std::isfinite(value))) {
    o.refuse(o.type == OptionType::Real ? fmt::format("{}", static_cast<double>(value)) : number_text(value));
  }
}

void RunSettings::set(std::string_view name, const OptionValue& value, std::string_view shown) {
  const RunOption& o = run_option(name);
  const OptionValue checked = o.check(value, shown);
  if (o.apply != nullptr) o.apply(*this, checked);
  else front_end[o.name] = checked;
  given_[o.name] = true;
}

void RunSettings::set_text(std::string_view name, const std::string& text) {
  const RunOption& o = run_option(name);
  const OptionValue checked = o.parse_text(text);
  if (o.apply != nullptr) o.apply(*this, checked);
  else front_end[o.name] = checked;
  given_[o.name] = true;
}

}  // namespace shadowsync
