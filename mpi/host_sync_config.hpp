// HostSyncConfig: the settings of the second level of shadow sync, the one across the processes of
// a run started by mpirun. Fields are named as every front end names them (the CLI spells them as
// --host-sync-interval-ms, ...); validate() checks them, naming the field. No MPI here: it is
// compiled (and validated) in builds without MPI too.
#pragma once

#include <optional>

#include "shadowsync/train/run_options.hpp"

namespace shadowsync::mpi {

// Defaults and ranges as the run option table (shadowsync/train/run_options.hpp) gives them.
struct HostSyncConfig {
  int host_sync_interval_ms = 20;            // round start to round start while training (0 = back to back)
  double host_sync_timeout_s = 20;           // longest wait for one round; then the job is aborted
  double host_first_round_timeout_s = 120;   // the first round also waits for the slowest process to load
  bool host_dense_only = false;              // true: only the dense model across hosts (tables diverge)
  // The rule across hosts; unset: the paper's defaults for H hosts (EASGD alpha = 0.9 / H, BMUF
  // eta = 1 - 1/H, zeta = 1).
  std::optional<float> host_alpha;           // EASGD elastic coefficient across hosts, in (0, 1]
  std::optional<float> host_block_momentum;  // BMUF block momentum across hosts, in [0, 1)
  std::optional<float> host_block_lr;        // BMUF block learning rate across hosts, > 0

  // Throws Error naming the first field out of range (the table's check and message).
  void validate() const;
  // The settings given to a run (RunSettings::front_end), the defaults for the others.
  static HostSyncConfig from(const RunSettings& settings);
};

}  // namespace shadowsync::mpi
