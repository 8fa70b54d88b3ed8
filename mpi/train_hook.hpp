// The hook by which `shadowsync train` (src/cli/cmd_train.cpp) becomes one process of a run across
// several processes when mpirun started it. mpi/train_hook.cpp defines it (builds with MPI),
// mpi/train_hook_none.cpp otherwise.
//
// Use, in order: join_if_launched(); prepare_host_run() once the train and eval views exist;
// host_participant() into TrainerSetup::participant; finish_host_run() after Trainer::run().
#pragma once

#include <cstdint>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "host_sync_config.hpp"
#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/train/background_participant.hpp"
#include "shadowsync/train/train_config.hpp"
#include "shadowsync/train/train_report.hpp"

namespace shadowsync::mpi {

class HostRun;

// nullptr when this process was not started by mpirun (nothing changes then). Otherwise
// initializes MPI (MPI_THREAD_MULTIPLE, checked) once and returns the process's run, owned here
// until exit (MPI is finalized at exit after finish_host_run(), the job aborted otherwise).
// Throws Error when MPI cannot provide what the run needs, or when this binary was built
// without MPI but mpirun started several processes.
HostRun* join_if_launched();

// This process's rank (0 reports, prints and evaluates; the others print only errors).
int host_rank(const HostRun& run);

// Narrows `train` to this process's rows [rN/H, (r+1)N/H); the evaluation rows stay with rank 0
// only. Checkpoints: rank 0 writes `checkpoint` (what eval and predict read), rank r > 0 writes its
// part `checkpoint.host-r-of-H` (its progress and state, for resume); the same for the stop
// checkpoint, and resume reads each process's own file. Resume refuses a checkpoint written with
// another number of processes (naming both), and then copies rank 0's model to every process.
// Every process must be given the same data: row counts and fingerprints are compared first, and
// a mismatch is refused on every process naming the first that differs. A run stopped by a
// signal writes its checkpoint without a final evaluation (mpirun kills every process soon after
// Ctrl-C; see docs/multi-host.md). `host` configures the inter-host sync (validated here too).
// Throws Error naming the field.
// Returns true on rank 0, the process that reports.
// `stopped`: the front end's stop token (a signal), which shortens the final inter-host round.
bool prepare_host_run(HostRun& run, TrainConfig& config, const HostSyncConfig& host, DataParts& train, DataView& eval,
                      std::stop_token stopped = {});

// The file process `rank` of `hosts` writes for `checkpoint` (rank 0: checkpoint itself).
std::string checkpoint_part(const std::string& checkpoint, int rank, int hosts);

// Under mpirun, Ctrl-C makes mpirun send every process SIGCONT, SIGTERM odls_base_sigkill_timeout
// seconds later (1 unless mpirun's MCA parameter set it; processes see it as
// OMPI_MCA_odls_base_sigkill_timeout) and SIGKILL as long after that. A process that stops at the
// SIGCONT has twice the timeout to write its stop checkpoint: the window this returns, in
// seconds. A checkpoint larger than kStopWindowBytesPerSecond x the window (128 MB/s: half of
// what a 2-core machine wrote under load) may not fit in it.
inline constexpr uint64_t kStopWindowBytesPerSecond = uint64_t{128} << 20;
double stop_window_seconds();

// The inter-host sync, for TrainerSetup::participant.
BackgroundParticipant* host_participant(HostRun& run);

// What rank 0 reports of every process after the run (empty on the other ranks): the JSON object
// {"event": "hosts", "processes": H, "hosts": [...], "totals": {...}} the front end appends to
// its metrics file (through the file's one writer), and the report line it prints (examples
// across processes, inter-host rounds, time and bytes per round).
struct HostTotals {
  nlohmann::json figures;  // null on ranks > 0
  std::string line;
};

// After Trainer::run() returned on this process (every process calls it): gathers every
// process's figures (examples, examples/s, intra- and inter-host rounds, round time and bytes) to
// rank 0, which returns them (HostTotals).
HostTotals finish_host_run(HostRun& run, const TrainReport& local);

}  // namespace shadowsync::mpi
