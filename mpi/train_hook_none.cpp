// The train hook of a build without MPI (see train_hook.hpp): a plain run, unless mpirun started
// several processes, which would each train on every row alone: refused.
#include <cstdlib>
#include <string>

#include "shadowsync/core/error.hpp"
#include "train_hook.hpp"

namespace shadowsync::mpi {

class HostRun {};

HostRun* join_if_launched() {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size != nullptr && std::atoi(size) > 1) {
    throw Error("started by mpirun with " + std::string(size) +
                " processes, but this shadowsync was built without MPI (each process would train on every row "
                "alone); rebuild with meson configure -Dmpi=enabled (needs libopenmpi-dev)");
  }
  return nullptr;
}

int host_rank(const HostRun&) { return 0; }
double stop_window_seconds() { return 0; }
bool prepare_host_run(HostRun&, TrainConfig&, const HostSyncConfig&, DataParts&, DataView&, std::stop_token) {
  return true;
}
std::string checkpoint_part(const std::string& checkpoint, int, int) { return checkpoint; }
BackgroundParticipant* host_participant(HostRun&) { return nullptr; }
HostTotals finish_host_run(HostRun&, const TrainReport&) { return {}; }

}  // namespace shadowsync::mpi
