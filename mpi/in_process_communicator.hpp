// InProcessWorld: the collectives of communicator.hpp between threads of one process sharing
// memory (one participant per thread), so that tests run several inter-host participants without
// mpirun. Each collective publishes every participant's send buffer, waits for all of them (or
// the deadline), lets each participant read the others' buffers directly, and waits again before
// any buffer may change. Sums are taken in rank order (the same bits on every participant).
// A timeout or abort() breaks the world: that and every later collective of every participant
// fails (a test's participants then end instead of waiting for each other).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "communicator.hpp"

namespace shadowsync::mpi {

class InProcessWorld {
 public:
  // Throws Error unless size >= 1.
  explicit InProcessWorld(int size);
  int size() const { return size_; }
  // The communicator of participant `rank` (one per thread; it refers to this world, which must
  // outlive it). Throws Error unless 0 <= rank < size().
  std::unique_ptr<Communicator> communicator(int rank);
  // Whether a participant aborted (and which code it gave; 0 when none did).
  int abort_code() const;

 private:
  friend class InProcessCommunicator;
  struct Slot {
    const void* send = nullptr;
    size_t count = 0;
  };
  // Publishes `slot` as participant rank's, waits until every participant has (or the deadline /
  // a break), runs `read` (which may read every slot), waits until every participant has read.
  template <typename Read>
  CollectiveStatus collective(int rank, Slot slot, Deadline deadline, Read read);
  CollectiveStatus arrive(std::unique_lock<std::mutex>& lock, Deadline deadline);
  void fail_all(int code);

  int size_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Slot> slots_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
  bool broken_ = false;
  int abort_code_ = 0;
};

}  // namespace shadowsync::mpi
