// The hook by which `shadowsync train` (src/cli/cmd_train.cpp) becomes one process of a run across
// several processes when mpirun started it. mpi/train_hook.cpp defines it (builds with MPI),
// mpi/train_hook_none.cpp otherwise.
//
// Use, in order: join_if_launched(); prepare_host_run() once the train and eval views exist;
// host_participant() into TrainerSetup::participant; finish_host_run() after Trainer::run().
#pragma once

#include <cstdint>
#include <string>

#include "shadowsync/data/data_view.hpp"
#include "shadowsync/train/background_participant.hpp"
#include "shadowsync/train/train_config.hpp"

namespace shadowsync::mpi {

class HostRun;

// nullptr when this process was not started by mpirun (nothing changes then). Otherwise
// initializes MPI (MPI_THREAD_MULTIPLE, checked) once and returns the process's run, owned here
// until exit (MPI is finalized at exit after finish_host_run(), the job aborted otherwise).
// Throws Error when MPI cannot provide what the run needs, or when this binary was built
// without MPI but mpirun started several processes.
HostRun* join_if_launched();

// Narrows `train` to this process's rows [rN/H, (r+1)N/H); the evaluation rows, the checkpoint
// and the stop checkpoint stay with rank 0 only. Throws Error (naming the field) for options a
// run across processes does not support yet. Returns true on rank 0, the process that reports.
bool prepare_host_run(HostRun& run, TrainConfig& config, DataView& train, DataView& eval);

// The inter-host sync, for TrainerSetup::participant.
BackgroundParticipant* host_participant(HostRun& run);

// After Trainer::run() returned on this process (every process calls it): sums the examples
// trained by every process and returns the report line rank 0 prints (examples across
// processes, inter-host rounds, time and bytes per round).
std::string finish_host_run(HostRun& run, uint64_t local_examples);

}  // namespace shadowsync::mpi
