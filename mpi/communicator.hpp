// Communicator: the few collectives the inter-host sync needs, over whatever carries them. Every
// participant of a run calls each collective in the same order; each waits at most until its
// deadline. MpiCommunicator (mpi_communicator.hpp) runs them over MPI across processes;
// InProcessWorld (in_process_communicator.hpp) over shared memory between threads of one
// process, for tests without mpirun. Modelled on XGBoost's collective communicator.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace shadowsync::mpi {

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline deadline_after(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

// The outcome of a collective: done, timed out (a peer died or hangs), or failed (message says why).
struct CollectiveStatus {
  enum Code { kOk, kTimedOut, kFailed };
  Code code = kOk;
  std::string message;  // kFailed: the transport's reason

  bool ok() const { return code == kOk; }
  static CollectiveStatus timed_out() { return {kTimedOut, "timed out"}; }
  static CollectiveStatus failed(std::string why) { return {kFailed, std::move(why)}; }
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // recv[k] = the sum over every participant of its send[k], k < count (send and recv distinct).
  virtual CollectiveStatus allreduce_sum(const float* send, float* recv, size_t count, Deadline deadline) = 0;
  // Root's `count` elements of `element_bytes` (1, 4 or 8) bytes each into every participant's `data`.
  virtual CollectiveStatus broadcast(void* data, size_t count, size_t element_bytes, int root, Deadline deadline) = 0;
  // Every participant's `count` elements, in rank order, into recv (size() x count elements).
  virtual CollectiveStatus allgather(const void* send, size_t count, size_t element_bytes, void* recv,
                                     Deadline deadline) = 0;
  // Participant r's counts[r] elements, in rank order, packed into recv; `count` is this
  // participant's own (counts[rank()]; every participant passes the same counts).
  virtual CollectiveStatus allgatherv(const void* send, size_t count, size_t element_bytes, void* recv,
                                      const std::vector<size_t>& counts, Deadline deadline) = 0;
  // Ends the whole run because this participant cannot go on: MPI aborts every process (does not
  // return); the in-process world fails every participant's pending and later collectives.
  virtual void abort(int code) = 0;
};

}  // namespace shadowsync::mpi
