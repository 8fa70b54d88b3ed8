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
#include "run_option_flags.hpp"
#include "quality_text.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/data/table_choice.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/numa/plan.hpp"
#include "shadowsync/train/eval_split.hpp"
#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/trainer.hpp"
#include "stop_signals.hpp"
#include "teacher_report.hpp"
#include "train_reporter.hpp"
#include "init_chain_text.hpp"
// Runs across processes (mpirun): the multi-host launcher's hook.
#include "mpi/train_hook.hpp"


namespace shadowsync::cli {
namespace {

struct TrainOptions {
  std::vector<std::string> data_files;  // --data: one or more files, trained in order
  RunSettings settings;                 // every other flag, read through the run option table
  SchemaRequest schema;                 // --label, --numeric, ... (common_options.hpp)
};

void print_summary(const TrainResult& result, const TrainConfig& config, int groups, int threads,
                   const std::optional<TeacherScore>& teacher, const std::vector<InitOrigin>& init_chain) {
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
  if (!init_chain.empty()) std::printf("started from: %s\n", init_chain_text(init_chain).c_str());
}

void run_train(TrainOptions& o) {
  // First, before any thread exists, so that every thread inherits the blocked stop signals
  // (see stop_signals.hpp).
  // Under mpirun the kill sequence's SIGCONT already stops (stop_signals.hpp).
  install_stop_signal_handlers(std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr);
  RunSettings& settings = o.settings;
  TrainConfig& config = settings.config;
  const std::string eval_data = settings.front_end_value<std::string>("eval_data", "");
  const std::string metrics = settings.front_end_value<std::string>("metrics", "");
  const bool quiet = settings.front_end_value<bool>("quiet", false);
  const double progress_seconds = settings.front_end_value<double>("progress_seconds", 0.0);
  check_eval_choice(settings, !eval_data.empty());
  config.validate();
  const mpi::HostSyncConfig host_sync = mpi::HostSyncConfig::from(settings);
  host_sync.validate();
  // Outputs must not be inputs (checked before anything is opened for writing): a --metrics or
  // --checkpoint over --data would truncate a memory-mapped cache under the trainer (SIGBUS) or
  // destroy the training data. --checkpoint may be the --resume file (it replaces it atomically).
  const std::string& data = o.data_files.front();
  std::vector<std::pair<std::string_view, std::string>> data_inputs = {{"--eval-data", eval_data}};
  for (const std::string& d : o.data_files) data_inputs.emplace_back("--data", d);
  std::vector<std::pair<std::string_view, std::string>> metrics_inputs = data_inputs;
  metrics_inputs.emplace_back("--resume", config.resume_path);
  metrics_inputs.emplace_back("--init-from", config.init_from);
  metrics_inputs.emplace_back("--checkpoint", config.checkpoint_path);
  if (!metrics.empty()) refuse_output_over_input("--metrics", metrics, metrics_inputs);
  if (!config.checkpoint_path.empty()) refuse_output_over_input("--checkpoint", config.checkpoint_path, data_inputs);

  ParseOptions parse;
  parse.strict = settings.strict;
  parse.delimiter = settings.delimiter;
  // --init-from: the checkpoint's model; text data is read with its schema and hashed with its
  // tables and salt (a cache keeps its own; the trainer refuses any difference, naming it).
  std::optional<ModelConfig> init_model;
  if (!config.init_from.empty()) init_model = init_from_model_config(config.init_from);
  const bool text_with_init = init_model && !has_cache_magic(o.data_files.front());
  parse.schema = text_with_init ? check_stated_schema(o.schema, init_model->schema, config.init_from)
                                : schema_for_paths(o.schema, o.data_files, parse.delimiter);

  // Under mpirun every process reads the data, but only rank 0 prints what a run prints; the
  // others print only their errors.
  mpi::HostRun* hosts = mpi::join_if_launched();
  const bool first_process = hosts == nullptr || mpi::host_rank(*hosts) == 0;
  // --rows-per-table, else a cache's hashing, else tables sized to the data (a first pass); with
  // --init-from and text data, the checkpoint's (unless --rows-per-table or --hash-salt say otherwise).
  const bool init_hashing = text_with_init && !settings.has("rows_per_table") && !settings.has("hash_salt");
  const data::HashingChoice hashing =
      init_hashing ? data::HashingChoice{init_model->hashing, data::HashingChoice::Source::Given}
                   : data::choose_hashing(o.data_files, settings.rows_per_table, settings.hash_salt, parse);
  parse.hashing = hashing.hashing;
  if (!init_hashing && parse.hashing.tables() != parse.schema.table_count()) {  // text of a stated schema
    parse.hashing = hashing_for(parse.schema,
                                checked_rows_per_table(settings.rows_per_table.value_or(HashingConfig::kDefaultRowsPerTable)),
                                settings.hash_salt);
  }
  if (!init_hashing && hashing.source != data::HashingChoice::Source::Cache) {  // a schema file's table sizes (its columns' "rows")
    for (int t = 0; t < parse.schema.table_count(); ++t) {
      const uint32_t asked = parse.schema.columns[size_t(parse.schema.table_column(t))].rows;
      if (asked != 0) parse.hashing.rows[size_t(t)] = asked;
    }
  }
  if (first_process && hashing.source != data::HashingChoice::Source::Given) {
    std::fprintf(stderr, "%s (--rows-per-table N to choose)\n", data::hashing_choice_text(hashing).c_str());
  }
  ParseReport report;
  Dataset train_set =
      Dataset::open_many(o.data_files, parse, &report, nullptr, print_reading_file(quiet || !first_process));
  if (!train_set.is_cache() && first_process) std::fprintf(stderr, "%s\n", report.summary().c_str());
  // The model is built for the data it reads: its schema (a cache's stored one) and hashing.
  // With --init-from and no --model, the checkpoint's model, for the data's columns and hashing
  // (the trainer names the first column, or the hashing, that differs from the checkpoint's).
  if (init_model && !settings.has("model")) {
    config.model = *init_model;
    config.model.schema = train_set.schema();
    config.model.hashing = parse.hashing;
  } else {
    config.model = ModelConfig::resolve(settings.model, parse.hashing, train_set.schema());
  }
  const std::string model_name = init_model && !settings.has("model") ? "the --init-from model" : settings.model;
  std::optional<Dataset> eval_set;
  DataParts train = train_set.parts();  // several files: read in order, not copied
  DataView eval;
  DataBlock eval_copy;  // the held-out tail when it spans two files
  if (!eval_data.empty()) {
    ParseReport eval_report;
    eval_set.emplace(Dataset::open(eval_data, parse, &eval_report));
    if (!eval_set->is_cache() && first_process) std::fprintf(stderr, "%s\n", eval_report.summary().c_str());
    eval = eval_set->view();
  } else {
    std::tie(train, eval) = held_out_split(settings, train_set.parts(), eval_copy);
  }

  // A run stopped by a signal without --checkpoint still leaves its state behind.
  config.stop_checkpoint_path = "shadowsync-interrupted.ckpt";
  // Under mpirun: this process's rows, the inter-host sync; only rank 0 reports and checkpoints.
  const bool leader = hosts == nullptr || mpi::prepare_host_run(*hosts, config, host_sync, train, eval, stop_signal_token());
  // --eval-fraction without --eval-every: a held-out curve along the run (this process's rows).
  config.eval_every = run_eval_every(settings, train.rows(), eval.rows);
  // Generated data: the teacher's NE on exactly the evaluated rows (one file; not across hosts).
  std::optional<TeacherScore> teacher;
  if (hosts == nullptr && eval_set) teacher = teacher_on_rows(eval_data, eval_set->rows(), 0, eval);
  if (hosts == nullptr && !eval_set && o.data_files.size() == 1) teacher = teacher_on_rows(data, train_set.rows(), train.rows(), eval);
  nlohmann::json metrics_config = config.to_json();
  if (teacher) metrics_config["teacher"] = teacher_json(*teacher);
  TrainReporter reporter(progress_seconds, quiet || !leader, MetricsFile(leader ? metrics : "", metrics_config));
  TrainerSetup setup;
  setup.observer = &reporter;
  setup.stop = stop_signal_token();
  if (hosts != nullptr) setup.participant = mpi::host_participant(*hosts);
  Trainer trainer(config, train, eval, std::move(setup));
  if (leader) {
    std::fprintf(stderr, "training %s on %zu rows (%zu held out), %d group(s) x %d thread(s), sync %s\n",
                 model_name.c_str(), train.rows(), eval.rows, trainer.groups(), trainer.threads_per_group(),
                 config.sync.name().c_str());
  }
  // Under mpirun: will Ctrl-C leave time to write this process's checkpoint? (tables and their
  // accumulators are nearly all of it.)
  if (leader && hosts != nullptr) {
    const uint64_t checkpoint_bytes = trainer.embeddings().state_bytes();
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
  if (leader) print_summary(result, config, trainer.groups(), trainer.threads_per_group(), teacher, trainer.init_chain());
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
  CLI::App* cmd = app.add_subcommand("train", "Train a CTR model with ShadowSync or a baseline sync mode");
  // Every flag is a run option of the table (shadowsync/train/run_options.hpp).
  add_run_option_flags(*cmd, options->settings, options->data_files);
  add_schema_options(*cmd, options->schema);
  cmd->callback([options] { run_train(*options); });
}

}  // namespace shadowsync::cli
