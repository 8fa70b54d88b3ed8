// `shadowsync train`: trains a model with one of the sync modes on the NUMA plan, reports
// progress and quality, writes checkpoints; SIGINT/SIGTERM stop it with a checkpoint.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "commands.hpp"
#include "common_options.hpp"
#include "placement_options.hpp"
#include "quality_text.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/table_choice.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/train/trainer.hpp"
#include "stop_signals.hpp"
#include "teacher_report.hpp"
#include "train_reporter.hpp"
// Runs across processes (mpirun): the multi-host launcher's hook.
#include "mpi/train_hook.hpp"


namespace shadowsync::cli {
namespace {

struct TrainOptions {
  std::string data;
  std::vector<std::string> data_files;  // --data: one or more files, trained in order (data = the first)
  std::string eval_data;
  std::optional<double> eval_fraction;
  std::string model = "small";
  std::string sync = "s-pa";
  std::string groups = "auto";
  std::string threads_per_group = "auto";
  std::string group_by = "socket";
  std::string optimizer = "adagrad";
  std::string precision = "fp32";
  std::string sync_interval = "auto";
  std::optional<float> lr;
  std::optional<float> emb_lr;
  std::optional<uint64_t> rows_per_table;
  uint64_t hash_salt = 0;
  bool strict = false;
  char delimiter = '\t';  // --delimiter
  bool classic_momentum = false;
  std::string metrics;            // JSON lines, one object per report
  std::optional<uint64_t> eval_every;  // unset: see default_eval_every
  double progress_seconds = 0;    // 0 = automatic: 0.5 s on a terminal, 5 s otherwise
  bool quiet = false;             // no progress lines (final summary still printed)
  TrainConfig config;
  mpi::HostSyncConfig host_sync;  // runs across processes (mpirun) only
};

int parse_sync_interval(const std::string& text) {
  if (text == "auto") return TrainConfig::kAutoSyncInterval;
  try {
    size_t used = 0;
    const int value = std::stoi(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  throw Error("--sync-interval-ms: '" + text + "' is not auto or a number of milliseconds >= 0");
}

// CLI11 checks with plain messages ("--batch: 0 is not in [1, 1048576]"; CLI11's own numeric
// validators print the type's whole range).
CLI::Validator integer_in(long long low, long long high) {
  return CLI::Validator(
      [low, high](std::string& text) -> std::string {
        long long value = 0;
        try {
          size_t used = 0;
          value = std::stoll(text, &used);
          if (used != text.size()) return "'" + text + "' is not a whole number";
        } catch (const std::exception&) {
          return "'" + text + "' is not a whole number in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
        }
        if (value < low || value > high) {
          return text + " is not in [" + std::to_string(low) + ", " + std::to_string(high) + "]";
        }
        return "";
      },
      fmt::format("in [{}, {}]", low, high));
}

// A real number; `accept` says whether it is allowed and `range` how the allowed set is named.
CLI::Validator real_where(bool (*accept)(double), std::string range) {
  return CLI::Validator(
      [accept, range](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size()) return "'" + text + "' is not a number";
        if (!accept(value)) return text + " is not " + range;
        return "";
      },
      range);
}

void print_summary(const TrainResult& result, const TrainConfig& config, int groups, int threads,
                   const std::optional<TeacherScore>& teacher) {
  const TrainReport& r = result.final_report;
  std::printf("trained %llu examples in %.2f s: %.0f examples/s with %d group(s) x %d thread(s)\n",
              static_cast<unsigned long long>(r.examples), r.elapsed_s, r.examples_per_second, groups, threads);
  for (size_t g = 0; g < r.groups.size(); ++g) {
    std::printf("  group %zu: %llu examples, %llu iterations, %.0f examples/s\n", g,
                static_cast<unsigned long long>(r.groups[g].examples),
                static_cast<unsigned long long>(r.groups[g].iterations), r.groups[g].examples_per_second);
  }
  std::string gap = r.sync_gap ? fmt::format("{:.2f} iterations", *r.sync_gap) : "none (no syncs)";
  const std::string pacing = r.sync_round_iterations > 0
                                ? fmt::format("paced at one round per {} iterations", r.sync_round_iterations)
                                : fmt::format("paced every {} ms", r.sync_interval_ms);
  std::printf("sync %s: %llu rounds, %.1f rounds/s (%s), sync gap %s, divergence %.3g, wait share %.1f%%\n",
              config.sync.name().c_str(), static_cast<unsigned long long>(r.sync_rounds),
              r.sync_rounds_per_second, pacing.c_str(), gap.c_str(), r.divergence, 100 * r.wait_share);
  if (r.eval) {
    std::printf("eval (%llu examples): %s\n", static_cast<unsigned long long>(r.eval->examples),
                quality_text(r.eval->ne, r.eval->logloss, r.eval->auc, r.eval->calibration).c_str());
    if (teacher) std::printf("%s\n", teacher_line(*teacher, r.eval->ne).c_str());
  }
  if (r.center) {
    std::printf("center copy:          %s\n",
                quality_text(r.center->ne, r.center->logloss, r.center->auc, r.center->calibration).c_str());
  }
  if (!result.checkpoint.empty()) std::printf("checkpoint: %s\n", result.checkpoint.c_str());
}

void run_train(TrainOptions& o) {
  // First, before any thread exists, so that every thread inherits the blocked stop signals
  // (see stop_signals.hpp).
  // Under mpirun the kill sequence's SIGCONT already stops (stop_signals.hpp).
  install_stop_signal_handlers(std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr);
  TrainConfig& config = o.config;
  config.sync = SyncMethod::parse(o.sync);
  config.placement.groups = parse_count_option("groups", o.groups);
  config.placement.threads_per_group = parse_count_option("threads_per_group", o.threads_per_group);
  config.placement.group_by = parse_group_by(o.group_by);
  config.optimizer.dense = OptimizerConfig::parse(o.optimizer);
  config.precision = parse_precision(o.precision);
  config.sync_interval_ms = parse_sync_interval(o.sync_interval);
  if (o.lr) config.optimizer.lr = *o.lr;
  if (o.emb_lr) config.optimizer.emb_lr = *o.emb_lr;
  config.nesterov = !o.classic_momentum;
  if (!o.eval_data.empty() && o.eval_fraction) {
    throw Error("--eval-data and --eval-fraction exclude each other: give one");
  }
  config.validate();
  o.host_sync.validate();
  if (!(std::isfinite(o.progress_seconds) && o.progress_seconds >= 0)) {
    throw Error(fmt::format("--progress-seconds: {} is not a finite number of seconds >= 0 (0 = automatic)",
                            o.progress_seconds));
  }
  // Outputs must not be inputs (checked before anything is opened for writing): a --metrics or
  // --checkpoint over --data would truncate a memory-mapped cache under the trainer (SIGBUS) or
  // destroy the training data. --checkpoint may be the --resume file (it replaces it atomically).
  o.data = o.data_files.front();
  std::vector<std::pair<std::string_view, std::string>> data_inputs = {{"--eval-data", o.eval_data}};
  for (const std::string& d : o.data_files) data_inputs.emplace_back("--data", d);
  std::vector<std::pair<std::string_view, std::string>> metrics_inputs = data_inputs;
  metrics_inputs.emplace_back("--resume", config.resume_path);
  metrics_inputs.emplace_back("--checkpoint", config.checkpoint_path);
  if (!o.metrics.empty()) refuse_output_over_input("--metrics", o.metrics, metrics_inputs);
  if (!config.checkpoint_path.empty()) refuse_output_over_input("--checkpoint", config.checkpoint_path, data_inputs);

  ParseOptions parse;
  parse.strict = o.strict;
  parse.delimiter = o.delimiter;

  // Under mpirun every process reads the data, but only rank 0 prints what a run prints; the
  // others print only their errors.
  mpi::HostRun* hosts = mpi::join_if_launched();
  const bool first_process = hosts == nullptr || mpi::host_rank(*hosts) == 0;
  // --rows-per-table, else a cache's hashing, else tables sized to the data (a first pass).
  const data::HashingChoice hashing =
      data::choose_hashing(o.data_files, o.rows_per_table, o.hash_salt, parse);
  parse.hashing = hashing.hashing;
  config.model = ModelConfig::resolve(o.model, parse.hashing);
  if (first_process && hashing.source != data::HashingChoice::Source::Given) {
    std::fprintf(stderr, "%s (--rows-per-table N to choose)\n", data::hashing_choice_text(hashing).c_str());
  }
  ParseReport report;
  Dataset train_set =
      Dataset::open_many(o.data_files, parse, &report, nullptr, print_reading_file(o.quiet || !first_process));
  if (!train_set.is_cache() && first_process) std::fprintf(stderr, "%s\n", report.summary().c_str());
  std::optional<Dataset> eval_set;
  DataParts train = train_set.parts();  // several files: read in order, not copied
  DataView eval;
  DataBlock eval_copy;  // the held-out tail when it spans two files
  if (!o.eval_data.empty()) {
    ParseReport eval_report;
    eval_set.emplace(Dataset::open(o.eval_data, parse, &eval_report));
    if (!eval_set->is_cache() && first_process) std::fprintf(stderr, "%s\n", eval_report.summary().c_str());
    eval = eval_set->view();
  } else if (o.eval_fraction && *o.eval_fraction == 0.0) {
    train = train_set.parts();  // --eval-fraction 0: train on everything, no evaluation
  } else {
    std::tie(train, eval) = split_eval_tail(train_set.parts(), o.eval_fraction.value_or(0.1), eval_copy);
  }

  // A run stopped by a signal without --checkpoint still leaves its state behind.
  config.stop_checkpoint_path = "shadowsync-interrupted.ckpt";
  // Under mpirun: this process's rows, the inter-host sync; only rank 0 reports and checkpoints.
  const bool leader = hosts == nullptr || mpi::prepare_host_run(*hosts, config, o.host_sync, train, eval, stop_signal_token());
  // --eval-fraction without --eval-every: a held-out curve along the run (this process's rows).
  if (o.eval_every) {
    config.eval_every = *o.eval_every;
  } else if (o.eval_fraction && *o.eval_fraction > 0 && eval.rows > 0) {
    config.eval_every = TrainConfig::default_eval_every(train.rows(), config.epochs);
  }
  // Generated data: the teacher's NE on exactly the evaluated rows (one file; not across hosts).
  std::optional<TeacherScore> teacher;
  if (hosts == nullptr && eval_set) teacher = teacher_on_rows(o.eval_data, eval_set->rows(), 0, eval);
  if (hosts == nullptr && !eval_set && o.data_files.size() == 1) teacher = teacher_on_rows(o.data, train_set.rows(), train.rows(), eval);
  nlohmann::json metrics_config = config.to_json();
  if (teacher) metrics_config["teacher"] = teacher_json(*teacher);
  TrainReporter reporter(o.progress_seconds, o.quiet || !leader, MetricsFile(leader ? o.metrics : "", metrics_config));
  TrainerSetup setup;
  setup.observer = &reporter;
  setup.stop = stop_signal_token();
  if (hosts != nullptr) setup.participant = mpi::host_participant(*hosts);
  Trainer trainer(config, train, eval, std::move(setup));
  if (leader) {
    std::fprintf(stderr, "training %s on %zu rows (%zu held out), %d group(s) x %d thread(s), sync %s\n",
                 o.model.c_str(), train.rows(), eval.rows, trainer.groups(), trainer.threads_per_group(),
                 config.sync.name().c_str());
  }
  // Under mpirun: will Ctrl-C leave time to write this process's checkpoint? (tables and their
  // accumulators are nearly all of it.)
  if (leader && hosts != nullptr) {
    uint64_t checkpoint_bytes = 0;
    const EmbeddingStore& tables = trainer.embeddings();
    for (int t = 0; t < kNumSparse; ++t) checkpoint_bytes += (tables.table_floats(t) + tables.rows(t)) * sizeof(float);
    const double window_s = mpi::stop_window_seconds();
    if (static_cast<double>(checkpoint_bytes) > window_s * static_cast<double>(mpi::kStopWindowBytesPerSecond)) {
      std::fprintf(stderr,
                   "note: on Ctrl-C mpirun kills every process %g s after it asks it to stop (twice "
                   "odls_base_sigkill_timeout), and each process then writes a checkpoint of about %.0f MB: give it time "
                   "with mpirun --mca odls_base_sigkill_timeout %.0f (docs/multi-host.md, Stopping)\n",
                   window_s, static_cast<double>(checkpoint_bytes) / 1e6,
                   std::ceil(std::max(10.0, static_cast<double>(checkpoint_bytes) / mpi::kStopWindowBytesPerSecond)));
    }
  }
  // One socket, --groups auto: one group and no replicas to sync. Say how to see shadow sync.
  if (leader && hosts == nullptr && trainer.groups() == 1 && config.placement.groups == 0 && config.sync.shadow()) {
    std::fprintf(stderr, "one group (one socket here): no sync rounds; pass --groups 2 to see shadow sync between two "
                         "replicas on this socket\n");
  }
  const TrainResult result = trainer.run();
  const int signal = received_stop_signal();
  const int repeated_signals = stop_signals_received() > 0 ? stop_signals_received() - 1 : 0;
  if (result.already_finished) {
    std::fprintf(stderr,
                 "--resume '%s': the run in this checkpoint is finished (%llu of %llu examples done); "
                 "nothing left to do (the checkpoint is unchanged)\n",
                 config.resume_path.c_str(), static_cast<unsigned long long>(result.final_report.examples),
                 static_cast<unsigned long long>(result.final_report.total_examples));
    if (hosts != nullptr) mpi::finish_host_run(*hosts, result.final_report);  // every process ends together
    return;
  }
  const mpi::HostTotals host_totals = hosts != nullptr ? mpi::finish_host_run(*hosts, result.final_report) : mpi::HostTotals{};
  if (!host_totals.figures.is_null()) reporter.write_metrics_event(host_totals.figures);
  const std::string& hosts_line = host_totals.line;
  if (leader) print_summary(result, config, trainer.groups(), trainer.threads_per_group(), teacher);
  if (leader && hosts != nullptr) std::printf("%s\n", hosts_line.c_str());
  if (leader && config.epochs > 1) {
    if (const std::optional<NeRise> rise = held_out_ne_rise(result, train.rows())) {
      std::fprintf(stderr,
                   "shadowsync: warning: held-out NE rose from %.5f (at %llu examples, epoch %d) to %.5f at the end: "
                   "the epochs after %d overfit; --epochs %d stops near the best model\n",
                   rise->best_ne, static_cast<unsigned long long>(rise->best_examples), rise->best_epoch,
                   rise->final_ne, rise->best_epoch, rise->best_epoch);
    }
  }
  if (repeated_signals > 0) {
    std::fprintf(stderr, "received %d more stop signal(s) while shutting down: ignored, to finish the checkpoint\n",
                 repeated_signals);
  }
  if (result.stop_after_training) {
    std::fprintf(stderr, "signal %d arrived after training had finished (during the final evaluation or checkpoint); "
                 "the run is complete%s\n",
                 signal, result.checkpoint.empty() ? "" : ("; checkpoint written to " + result.checkpoint).c_str());
    throw ExitStatus{128 + signal};
  }
  if (result.stop_requested) {
    if (leader) std::fprintf(stderr, "stopped by signal %d at %llu examples; checkpoint written to %s; continue with --resume %s\n",
                 signal, static_cast<unsigned long long>(result.final_report.examples),
                 result.checkpoint.c_str(), result.checkpoint.c_str());
    throw ExitStatus{128 + signal};
  }
  if (result.stopped_early && leader) {
    std::fprintf(stderr, "stopped after --max-examples at %llu examples%s\n",
                 static_cast<unsigned long long>(result.final_report.examples),
                 result.checkpoint.empty() ? "" : ("; continue with --resume " + result.checkpoint).c_str());
  }
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  TrainOptions& o = *options;
  TrainConfig& c = o.config;
  CLI::App* cmd = app.add_subcommand("train", "Train a CTR model with ShadowSync or a baseline sync mode");
  cmd->add_option("--data", o.data_files, "Training data: Criteo TSV files (plain, gzip or zstd; - = standard input) or binary "
                  "caches from `convert`, trained in order as one dataset")->required();
  cmd->add_option("--eval-data", o.eval_data, "Evaluation data (TSV or cache); default: the last --eval-fraction of --data");
  cmd->add_option("--eval-fraction", o.eval_fraction, "Held-out tail of --data used for evaluation (default 0.1; 0 = train on every row, "
                  "no evaluation)")
      ->check(real_where([](double f) { return f >= 0.0 && f < 1.0; }, "in [0, 1)"));
  cmd->add_option("--model", o.model, "Preset (tiny, small, kaggle) or a model JSON file")->capture_default_str();
  cmd->add_option("--sync", o.sync, "Sync mode: " + SyncMethod::choices())->capture_default_str();
  cmd->add_option("--topology", c.topology, "hwloc synthetic description or XML file (default: this machine)");
  cmd->add_option("--groups", o.groups, "Trainer groups: auto (one per socket) or a number")->capture_default_str();
  cmd->add_option("--threads-per-group", o.threads_per_group, "Hogwild workers per group: auto or a number")
      ->capture_default_str();
  cmd->add_option("--group-by", o.group_by, "One group per socket or per numa node")->capture_default_str();
  cmd->add_flag("--oversubscribe", c.placement.oversubscribe, "Allow more threads than processing units");
  cmd->add_option("--batch", c.batch, "Examples per worker step")
      ->capture_default_str()->check(integer_in(1, TrainConfig::kMaxBatch));
  cmd->add_option("--optimizer", o.optimizer, "Dense optimizer: sgd or adagrad")->capture_default_str();
  cmd->add_option("--precision", o.precision, "GEMM number format: fp32, or bf16 on CPUs with AVX512_BF16 or AMX "
                  "(docs/precision.md)")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Dense learning rate");
  cmd->add_option("--emb-lr", o.emb_lr, "Embedding (row-wise Adagrad) learning rate");
  cmd->add_option("--epochs", c.epochs, "Passes over each group's share")
      ->capture_default_str()->check(integer_in(1, 1000000));
  cmd->add_option("--seed", c.seed, "Initialization seed")->capture_default_str();
  cmd->add_option("--sync-every", c.sync_every, "Foreground modes: sync after every k iterations of each worker")
      ->capture_default_str()->check(integer_in(1, 1 << 30));
  cmd->add_option("--sync-interval-ms", o.sync_interval,
                  "Shadow modes: auto = rounds back to back when the sync thread has a spare processing unit, "
                  "else one round per --sync-round-iterations iterations of each group; or N = N ms from one "
                  "round's start to the next (0 = back to back)")
      ->capture_default_str();
  cmd->add_option("--sync-round-iterations", c.sync_round_iterations,
                  "Shadow modes, auto pacing, no spare core: one round per this many iterations of each group")
      ->capture_default_str()->check(integer_in(1, 1 << 30));
  cmd->add_option("--sync-threads", c.sync_threads, "Shadow modes: background threads (0 = one per group)")
      ->capture_default_str()->check(integer_in(0, 4096));
  cmd->add_option("--alpha", c.alpha, "EASGD elastic coefficient (default 0.9 / groups)");
  cmd->add_option("--block-momentum", c.block_momentum, "BMUF / PA block momentum eta (default BMUF 1 - 1/groups, PA 1 - 1/sqrt(groups))");
  cmd->add_option("--block-lr", c.block_lr, "BMUF / PA block learning rate zeta (default 1)");
  cmd->add_flag("--classic-momentum", o.classic_momentum, "BMUF / PA: classic instead of Nesterov block momentum");
  cmd->add_option("--eval-every", o.eval_every, "Evaluate every N examples (0 = only at the end; default: with "
                  "--eval-fraction, 8 evaluations along the run, else only at the end)");
  cmd->add_option("--checkpoint", c.checkpoint_path, "Write checkpoints to this file");
  cmd->add_option("--checkpoint-every", c.checkpoint_every, "Checkpoint every N examples as well as at the end");
  cmd->add_option("--resume", c.resume_path, "Continue from this checkpoint");
  cmd->add_option("--metrics", o.metrics, "Write every report as a JSON line to this file");
  cmd->add_option("--max-examples", c.max_examples, "Stop (with a checkpoint) after about N examples");
  cmd->add_flag("--deterministic", c.deterministic, "Bit-identical results for a seed (none and fr-* modes only)");
  // Runs across processes (mpirun; docs/multi-host.md): the second level of shadow sync.
  mpi::HostSyncConfig& h = o.host_sync;
  cmd->add_option("--host-sync-interval-ms", h.host_sync_interval_ms,
                  "mpirun: ms from one inter-host round's start to the next (0 = back to back)")
      ->capture_default_str()->check(integer_in(0, mpi::HostSyncConfig::kMaxIntervalMs));
  const auto timeout_check = real_where([](double s) { return s >= mpi::HostSyncConfig::kMinTimeoutS &&
                                                              s <= mpi::HostSyncConfig::kMaxTimeoutS; },
                                        "a number of seconds in [0.1, 86400]");
  cmd->add_option("--host-sync-timeout-s", h.host_sync_timeout_s,
                  "mpirun: longest wait for one inter-host round (a process died or hangs), then every process aborts")
      ->capture_default_str()->check(timeout_check);
  cmd->add_option("--host-first-round-timeout-s", h.host_first_round_timeout_s,
                  "mpirun: longest wait for the first inter-host round (the slowest process loads its data)")
      ->capture_default_str()->check(timeout_check);
  cmd->add_flag("--host-dense-only", h.host_dense_only,
                "mpirun: synchronize only the dense model across processes (embedding tables then differ per process)");
  cmd->add_option("--host-alpha", h.host_alpha, "mpirun: EASGD elastic coefficient across processes (default 0.9 / processes)");
  cmd->add_option("--host-block-momentum", h.host_block_momentum,
                  "mpirun: BMUF block momentum across processes (default 1 - 1/processes)");
  cmd->add_option("--host-block-lr", h.host_block_lr, "mpirun: BMUF block learning rate across processes (default 1)");
  add_rows_per_table(*cmd, o.rows_per_table, "Embedding rows per table (default: the cache's; for text files, sized to the data: twice the rows each table uses, as a power of two, at most 131072; 131072 for standard input)");
  cmd->add_option("--hash-salt", o.hash_salt, "Salt of the categorical hash")->capture_default_str();
  cmd->add_flag("--strict", o.strict, "Stop at the first bad input line instead of skipping it");
  add_delimiter(*cmd, o.delimiter);
  cmd->add_flag("--quiet", o.quiet, "No progress lines");
  cmd->add_option("--progress-seconds", o.progress_seconds, "Seconds between progress lines (default 0.5 on a terminal, 5 otherwise)")
      ->check(real_where([](double s) { return std::isfinite(s) && s >= 0.0; },
                         "a finite number of seconds >= 0 (0 = automatic)"));
  cmd->callback([options] { run_train(*options); });
}

}  // namespace shadowsync::cli
