// The train hook of a build with Open MPI (see train_hook.hpp): MPI setup and teardown, the
// row range of each process, the inter-host sync and the totals rank 0 reports.
#include "train_hook.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "inter_host_sync.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {

class HostRun {
 public:
  int rank = 0;
  int size = 1;
  MPI_Comm sync_comm = MPI_COMM_NULL;    // only the inter-host sync thread uses it
  MPI_Comm report_comm = MPI_COMM_NULL;  // the main thread's collectives (totals)
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
  MPI_Comm_free(&run->sync_comm);
  MPI_Comm_free(&run->report_comm);
  MPI_Finalize();
}

double env_number(const char* name, double fallback, double low, double high) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value >= low && value <= high)) {
    throw Error(fmt::format("environment variable {}: '{}' is not a number in [{}, {}]", name, text, low, high));
  }
  return value;
}

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = "";
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(fmt::format("{} failed: {}", call, text));
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

bool prepare_host_run(HostRun& run, TrainConfig& config, DataView& train, DataView& eval) {
  const std::string across = fmt::format(" is not supported yet in a run across {} processes (mpirun)", run.size);
  if (config.eval_every > 0) throw Error(field("eval_every") + across + "; the final model is evaluated on rank 0");
  if (config.checkpoint_every > 0) throw Error(field("checkpoint_every") + across + "; rank 0 writes the final checkpoint");
  if (!config.resume_path.empty()) throw Error(field("resume") + across);
  if (config.deterministic) throw Error(field("deterministic") + across + " (the inter-host sync runs in the background)");
  const size_t rows = train.rows;
  const size_t r = static_cast<size_t>(run.rank), h = static_cast<size_t>(run.size);
  const size_t begin = rows * r / h, end = rows * (r + 1) / h;
  if (end == begin) {
    throw Error(fmt::format("{} training rows cannot be shared by {} processes: process {} would get none", rows,
                            run.size, run.rank));
  }
  train = train.slice(begin, end);
  const bool leader = run.rank == 0;
  if (!leader) {
    eval = DataView{};
    config.checkpoint_path.clear();
    config.stop_checkpoint_path.clear();
  }
  InterHostSyncOptions options;
  options.interval_ms = static_cast<int>(env_number("SHADOWSYNC_MPI_INTERVAL_MS", options.interval_ms, 0, 60000));
  options.timeout_s = env_number("SHADOWSYNC_MPI_TIMEOUT_S", options.timeout_s, 0.1, 86400);
  options.first_round_timeout_s =
      env_number("SHADOWSYNC_MPI_FIRST_ROUND_TIMEOUT_S", options.first_round_timeout_s, 0.1, 86400);
  options.sync_embeddings = env_number("SHADOWSYNC_MPI_SYNC_EMBEDDINGS", 1, 0, 1) != 0;
  // Across hosts the run's rule (MA for modes without one), with the paper's defaults for H.
  options.rule = SyncParams::defaults(config.sync.uses_rule() ? config.sync.rule : SyncRuleKind::MA, run.size);
  options.rule.nesterov = config.nesterov;
  run.sync = std::make_unique<InterHostSync>(run.sync_comm, options);
  return leader;
}

BackgroundParticipant* host_participant(HostRun& run) { return run.sync.get(); }

std::string finish_host_run(HostRun& run, uint64_t local_examples) {
  double local[2] = {static_cast<double>(local_examples), 0};
  double total[2] = {0, 0};
  const InterHostStats stats = run.sync ? run.sync->stats() : InterHostStats{};
  local[1] = stats.rounds > 0 ? stats.busy_s / static_cast<double>(stats.rounds) : 0;
  // Every process reaches this after its run (the final inter-host round needs all of them).
  check(MPI_Allreduce(local, total, 2, MPI_DOUBLE, MPI_SUM, run.report_comm), "MPI_Allreduce (totals)");
  run.finished = true;
  const double round_ms = stats.rounds > 0 ? 1e3 * stats.busy_s / static_cast<double>(stats.rounds) : 0;
  const double allreduce_ms = stats.rounds > 0 ? 1e3 * stats.allreduce_s / static_cast<double>(stats.rounds) : 0;
  return fmt::format(
      "across {} processes: {:.0f} examples trained; inter-host sync ({}): {} rounds on rank 0, {:.3f} ms per round "
      "({:.3f} ms in the collectives; mean over processes {:.3f} ms), {:.0f} bytes sent per round (mean)",
      run.size, total[0], sync_rule_name(run.sync ? run.sync->rule().kind : SyncRuleKind::MA), stats.rounds, round_ms, allreduce_ms, 1e3 * total[1] / run.size, stats.bytes_per_round);
}

}  // namespace shadowsync::mpi
