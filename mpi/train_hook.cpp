// The train hook of a build with Open MPI (see train_hook.hpp): MPI setup and teardown, the
// row range of each process, the inter-host sync and the totals rank 0 reports.
#include "train_hook.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "inter_host_sync.hpp"
#include "mpi_communicator.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/data_fingerprint.hpp"

namespace shadowsync::mpi {

class HostRun {
 public:
  int rank = 0;
  int size = 1;
  MPI_Comm sync_comm = MPI_COMM_NULL;    // only the inter-host sync thread uses it
  MPI_Comm report_comm = MPI_COMM_NULL;  // the main thread's collectives (totals)
  std::unique_ptr<MpiCommunicator> sync_collectives;  // over sync_comm
  std::unique_ptr<InterHostSync> sync;
  bool finished = false;
};

namespace {

std::unique_ptr<HostRun>& the_run() {
  static std::unique_ptr<HostRun> run;
  return run;
}

// At exit: a run that finished is finalized; any other end (an error on this process) aborts the
// job, so that the other processes do not wait for this one.
void end_mpi_at_exit() {
  std::unique_ptr<HostRun>& run = the_run();
  if (!run) return;
  if (!run->finished) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
    return;
  }
  run->sync.reset();
  run->sync_collectives.reset();
  MPI_Comm_free(&run->sync_comm);
  MPI_Comm_free(&run->report_comm);
  MPI_Finalize();
}

// The environment variables of earlier versions: refused (not silently ignored), naming the option.
void refuse_old_environment() {
  static const char* const kReplaced[][2] = {
      {"SHADOWSYNC_MPI_INTERVAL_MS", "host_sync_interval_ms"},
      {"SHADOWSYNC_MPI_TIMEOUT_S", "host_sync_timeout_s"},
      {"SHADOWSYNC_MPI_FIRST_ROUND_TIMEOUT_S", "host_first_round_timeout_s"},
      {"SHADOWSYNC_MPI_SYNC_EMBEDDINGS", "host_dense_only"},
  };
  for (const auto& [name, option] : kReplaced) {
    if (std::getenv(name) != nullptr) {
      throw Error(fmt::format("environment variable {} is no longer read: pass {} instead (and unset it)", name,
                              field(option)));
    }
  }
}

// The process counts of the parts `checkpoint.host-R-of-K` that exist beside `checkpoint`
// (of any rank, or of `rank` only when rank > 0).
std::set<int> part_counts(const std::string& checkpoint, int rank) {
  std::set<int> counts;
  namespace fs = std::filesystem;
  const fs::path path(checkpoint);
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::regex part(std::regex_replace(path.filename().string(), std::regex(R"([.^$|()\[\]{}*+?\\])"),
                                           R"(\$&)") +
                        R"(\.host-(\d+)-of-(\d+))");
  std::error_code error;
  for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    std::smatch match;
    const std::string name = it->path().filename().string();
    if (!std::regex_match(name, match, part)) continue;
    if (rank > 0 && std::stoi(match[1].str()) != rank) continue;
    counts.insert(std::stoi(match[2].str()));
  }
  return counts;
}

// --resume under mpirun: the checkpoint must come from a run across as many processes.
void check_resume_hosts(const std::string& checkpoint, int rank, int hosts) {
  const std::string where = field("resume") + " '" + checkpoint + "'";
  std::set<int> counts = part_counts(checkpoint, rank);
  if (counts.count(hosts) > 0) return;
  if (counts.empty()) counts = part_counts(checkpoint, 0);  // parts of other ranks name the count
  if (!counts.empty()) {
    throw Error(fmt::format("{}: the checkpoint was written by a run across {} processes, this run has {} (mpirun -np "
                            "{}); resume with mpirun -np {} (another number of processes is not supported)",
                            where, *counts.begin(), hosts, hosts, *counts.begin()));
  }
  if (rank > 0 || std::filesystem::exists(checkpoint)) {
    throw Error(fmt::format("{}: no part '{}' for process {} of {}: the checkpoint was written by one process (or "
                            "the parts are missing); a run across {} processes resumes only from a checkpoint of "
                            "a run across {} processes",
                            where, checkpoint_part(checkpoint, std::max(rank, 1), hosts), std::max(rank, 1), hosts,
                            hosts, hosts));
  }
  // rank 0 without its own file: the engine names the missing file.
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = "";
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(fmt::format("{} failed: {}", call, text));
}

// Every process must read the same rows (each trains its own share of them): the training and
// held-out row counts and the rows' fingerprints are compared with process 0's before anything
// else. A mismatch is refused on every process, naming the first process that differs.
void check_same_data(HostRun& run, const DataParts& train, const DataView& eval) {
  const uint64_t mine[4] = {train.rows(), eval.rows, std::stoull(data_fingerprint(train), nullptr, 16),
                            std::stoull(data_fingerprint(DataParts(eval)), nullptr, 16)};
  std::vector<uint64_t> all(4 * static_cast<size_t>(run.size));
  check(MPI_Allgather(mine, 4, MPI_UINT64_T, all.data(), 4, MPI_UINT64_T, run.report_comm),
        "MPI_Allgather (the data of every process)");
  const uint64_t* first = all.data();
  for (int r = 1; r < run.size; ++r) {
    const uint64_t* other = all.data() + 4 * static_cast<size_t>(r);
    if (std::equal(other, other + 4, first)) continue;
    throw Error(fmt::format(
        "{}: process {} was given other data than process 0: {} training and {} held-out rows (fingerprint "
        "{:016x}/{:016x}) against {} and {} (fingerprint {:016x}/{:016x}) on process 0; every process must be given "
        "the same data, each trains its own share of the rows",
        field("data"), r, other[0], other[1], other[2], other[3], first[0], first[1], first[2], first[3]));
  }
}

}  // namespace

HostRun* join_if_launched() {
  if (the_run()) return the_run().get();
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("PMIX_RANK") == nullptr) return nullptr;
  int provided = MPI_THREAD_SINGLE;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
    throw Error("MPI_Init_thread failed: cannot join the processes started by mpirun");
  }
  auto run = std::make_unique<HostRun>();
  // Registered at once: from now on every exit either finalizes or aborts the job.
  the_run() = std::move(run);
  std::atexit(end_mpi_at_exit);
  HostRun& r = *the_run();
  if (provided < MPI_THREAD_MULTIPLE) {
    throw Error(fmt::format("MPI provides thread level {} but a run across processes needs MPI_THREAD_MULTIPLE ({})",
                            provided, static_cast<int>(MPI_THREAD_MULTIPLE)));
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &r.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &r.size), "MPI_Comm_size");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &r.sync_comm), "MPI_Comm_dup");
  check(MPI_Comm_dup(MPI_COMM_WORLD, &r.report_comm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(r.sync_comm, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(r.report_comm, MPI_ERRORS_RETURN);
  return &r;
}

std::string checkpoint_part(const std::string& checkpoint, int rank, int hosts) {
  if (rank == 0 || checkpoint.empty()) return checkpoint;
  return fmt::format("{}.host-{}-of-{}", checkpoint, rank, hosts);
}

int host_rank(const HostRun& run) { return run.rank; }

double stop_window_seconds() {
  double timeout_s = 1;  // Open MPI's default
  if (const char* set = std::getenv("OMPI_MCA_odls_base_sigkill_timeout")) {
    char* end = nullptr;
    const double value = std::strtod(set, &end);
    if (end != set && *end == '\0' && value >= 0) timeout_s = value;
  }
  return 2 * timeout_s;
}

bool prepare_host_run(HostRun& run, TrainConfig& config, const HostSyncConfig& host, DataParts& train, DataView& eval,
                      std::stop_token stopped) {
  host.validate();
  refuse_old_environment();
  if (!config.resume_path.empty()) {
    check_resume_hosts(config.resume_path, run.rank, run.size);
    config.resume_path = checkpoint_part(config.resume_path, run.rank, run.size);
  }
  check_same_data(run, train, eval);
  const size_t rows = train.rows();
  const size_t r = static_cast<size_t>(run.rank), h = static_cast<size_t>(run.size);
  const size_t begin = rows * r / h, end = rows * (r + 1) / h;
  if (end == begin) {
    throw Error(fmt::format("{} training rows cannot be shared by {} processes: process {} would get none", rows,
                            run.size, run.rank));
  }
  train = train.slice(begin, end);
  const bool leader = run.rank == 0;
  if (!leader) eval = DataView{};
  // Every process checkpoints its own part (its progress, for resume); rank 0's is the model file.
  config.checkpoint_path = checkpoint_part(config.checkpoint_path, run.rank, run.size);
  config.stop_checkpoint_path = checkpoint_part(config.stop_checkpoint_path, run.rank, run.size);
  config.evaluate_on_stop = false;
  InterHostSyncOptions options;
  options.interval_ms = host.host_sync_interval_ms;
  options.timeout_s = host.host_sync_timeout_s;
  options.first_round_timeout_s = host.host_first_round_timeout_s;
  options.sync_embeddings = !host.host_dense_only;
  if (options.sync_embeddings && config.embedding_precision != RowFormat::Fp32) {
    // The inter-host round averages rows as fp32 deltas in place; bf16 rows are not synced.
    throw Error(field("embedding_precision") + " " + row_format_name(config.embedding_precision) +
                ": embedding rows are synced across hosts only in fp32; use " + field("embedding_precision") +
                " fp32, or " + field("host_dense_only") + " to sync only the dense model");
  }
  // Resumed processes start from their own parts; processes started from one trained model
  // (init_from, one file every process reads) start equal, and are made so even when the hosts'
  // copies of that path differ.
  options.align_at_start = !config.resume_path.empty() || !config.init_from.empty();
  options.final_round_only = config.deterministic;
  options.stopped = std::move(stopped);
  // Across hosts the run's rule (MA for modes without one), with the paper's defaults for H unless
  // the host_* parameters say otherwise.
  options.rule = SyncParams::defaults(config.sync.uses_rule() ? config.sync.rule : SyncRuleKind::MA, run.size);
  if (host.host_alpha) options.rule.alpha = *host.host_alpha;
  if (host.host_block_momentum) options.rule.block_momentum = *host.host_block_momentum;
  if (host.host_block_lr) options.rule.block_lr = *host.host_block_lr;
  options.rule.nesterov = config.nesterov;
  run.sync_collectives = std::make_unique<MpiCommunicator>(run.sync_comm);
  run.sync = std::make_unique<InterHostSync>(*run.sync_collectives, options);
  return leader;
}

BackgroundParticipant* host_participant(HostRun& run) { return run.sync.get(); }

namespace {

// One process's figures, as gathered to rank 0.
enum HostFigure { kExamples, kElapsed, kExamplesPerSecond, kSyncRounds, kHostRounds, kRoundS, kCollectiveS, kBytes,
                  kSpreadSq, kMeanNormSq, kFigures };

nlohmann::json hosts_json(const std::vector<double>& all, int hosts) {
  nlohmann::json list = nlohmann::json::array();
  double examples = 0, rate = 0, seconds = 0, spread_sq = 0;
  for (int h = 0; h < hosts; ++h) {
    const double* f = all.data() + static_cast<size_t>(h) * kFigures;
    const double rounds = f[kHostRounds];
    list.push_back({{"rank", h},
                    {"examples", static_cast<uint64_t>(f[kExamples])},
                    {"elapsed_s", f[kElapsed]},
                    {"examples_per_second", f[kExamplesPerSecond]},
                    {"sync_rounds", static_cast<uint64_t>(f[kSyncRounds])},
                    {"inter_host_rounds", static_cast<uint64_t>(rounds)},
                    {"inter_host_rounds_per_second", f[kElapsed] > 0 ? rounds / f[kElapsed] : 0.0},
                    {"inter_host_round_ms", rounds > 0 ? 1e3 * f[kRoundS] / rounds : 0.0},
                    {"inter_host_collective_ms", rounds > 0 ? 1e3 * f[kCollectiveS] / rounds : 0.0},
                    {"inter_host_bytes_per_round", f[kBytes]},
                    // This host's dense model against the hosts' mean at the last round (relative L2).
                    {"distance_to_mean", f[kMeanNormSq] > 0 ? std::sqrt(f[kSpreadSq] / f[kMeanNormSq]) : 0.0}});
    spread_sq += f[kSpreadSq];
    examples += f[kExamples];
    rate += f[kExamplesPerSecond];
    seconds = std::max(seconds, f[kElapsed]);
  }
  const double rounds0 = all[kHostRounds];
  return {{"event", "hosts"},
          {"processes", hosts},
          {"hosts", list},
          {"totals",
           {{"examples", static_cast<uint64_t>(examples)},
            {"examples_per_second", rate},
            {"elapsed_s", seconds},
            {"inter_host_rounds", static_cast<uint64_t>(rounds0)},
            {"inter_host_rounds_per_second", all[kElapsed] > 0 ? rounds0 / all[kElapsed] : 0.0},
            // The hosts' dense models at the last round, as the engine's divergence within a host:
            // relative L2 distance of the hosts' models to their mean (before the final average).
            {"divergence_between_hosts",
             all[kMeanNormSq] > 0 ? std::sqrt(spread_sq / hosts) / std::sqrt(all[kMeanNormSq]) : 0.0}}}};
}

}  // namespace

HostTotals finish_host_run(HostRun& run, const TrainReport& local) {
  const InterHostStats stats = run.sync ? run.sync->stats() : InterHostStats{};
  std::vector<double> mine(kFigures, 0.0);
  mine[kExamples] = static_cast<double>(local.examples);
  mine[kElapsed] = local.elapsed_s;
  mine[kExamplesPerSecond] = local.examples_per_second;
  mine[kSyncRounds] = static_cast<double>(local.sync_rounds);
  mine[kHostRounds] = static_cast<double>(stats.rounds);
  mine[kRoundS] = stats.busy_s;
  mine[kCollectiveS] = stats.allreduce_s;
  mine[kBytes] = stats.bytes_per_round;
  mine[kSpreadSq] = stats.spread_sq;
  mine[kMeanNormSq] = stats.mean_norm_sq;
  std::vector<double> all(static_cast<size_t>(kFigures) * static_cast<size_t>(run.size), 0.0);
  // Every process reaches this after its run (the final inter-host round needs all of them).
  check(MPI_Gather(mine.data(), kFigures, MPI_DOUBLE, all.data(), kFigures, MPI_DOUBLE, 0, run.report_comm),
        "MPI_Gather (figures of every process)");
  run.finished = true;
  if (run.rank != 0) return {};
  HostTotals totals;
  totals.figures = hosts_json(all, run.size);
  const nlohmann::json& figures = totals.figures;
  double round_s_sum = 0, bytes_sum = 0;
  for (int h = 0; h < run.size; ++h) {
    const double* f = all.data() + static_cast<size_t>(h) * kFigures;
    round_s_sum += f[kHostRounds] > 0 ? f[kRoundS] / f[kHostRounds] : 0;
    bytes_sum += f[kBytes];
  }
  const double round_ms = stats.rounds > 0 ? 1e3 * stats.busy_s / static_cast<double>(stats.rounds) : 0;
  const double allreduce_ms = stats.rounds > 0 ? 1e3 * stats.allreduce_s / static_cast<double>(stats.rounds) : 0;
  totals.line = fmt::format(
      "across {} processes: {} examples trained; inter-host sync ({}): {} rounds on rank 0, {:.3f} ms per round "
      "({:.3f} ms in the collectives; mean over processes {:.3f} ms), {:.0f} bytes sent per round (mean)",
      run.size, figures["totals"]["examples"].get<uint64_t>(),
      sync_rule_name(run.sync ? run.sync->rule().kind : SyncRuleKind::MA), stats.rounds, round_ms, allreduce_ms,
      1e3 * round_s_sum / run.size, bytes_sum / run.size);
  return totals;
}

}  // namespace shadowsync::mpi
