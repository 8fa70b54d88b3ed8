// MpiCommunicator: the collectives of communicator.hpp over an MPI communicator, each a
// non-blocking MPI call driven by MPI_Testall with short sleeps until it completes or the
// deadline passes (Open MPI progresses only inside calls). Time this process did not run (a gap of
// over a second between two polls: mpirun was stopped, Ctrl-Z and fg) moves the deadline on by the
// gap, so a suspension longer than the timeout does not abort the job on resume. A deadline that
// passes abandons the requests: the caller aborts the job (abort(): MPI_Abort of every process).
#pragma once

#include <mpi.h>

#include "communicator.hpp"

namespace shadowsync::mpi {

class MpiCommunicator final : public Communicator {
 public:
  // `comm`: used only through this object (duplicated by the caller, errors returned:
  // MPI_ERRORS_RETURN); not freed here.
  explicit MpiCommunicator(MPI_Comm comm);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  CollectiveStatus allreduce_sum(const float* send, float* recv, size_t count, Deadline deadline) override;
  CollectiveStatus broadcast(void* data, size_t count, size_t element_bytes, int root, Deadline deadline) override;
  CollectiveStatus allgather(const void* send, size_t count, size_t element_bytes, void* recv,
                             Deadline deadline) override;
  CollectiveStatus allgatherv(const void* send, size_t count, size_t element_bytes, void* recv,
                              const std::vector<size_t>& counts, Deadline deadline) override;
  [[noreturn]] void abort(int code) override;

 private:
  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace shadowsync::mpi
