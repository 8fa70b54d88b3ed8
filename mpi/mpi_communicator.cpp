// The collectives over MPI (see mpi_communicator.hpp).
#include "mpi_communicator.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>

namespace shadowsync::mpi {
namespace {

using Clock = std::chrono::steady_clock;

CollectiveStatus status_of(int rc) {
  if (rc == MPI_SUCCESS) return {};
  if (rc == MPI_ERR_COUNT) return CollectiveStatus::failed("a message is too large for one MPI call");
  char text[MPI_MAX_ERROR_STRING] = "";
  int length = 0;
  MPI_Error_string(rc, text, &length);
  return CollectiveStatus::failed(text);
}

// Waits for every request with MPI_Testall and short sleeps, until the deadline (moved on by a
// gap of over a second between two polls: this process was stopped).
CollectiveStatus wait_all(MPI_Request* requests, int count, Deadline deadline) {
  int spins = 0;
  Clock::time_point last_poll = Clock::now();
  for (;;) {
    int complete = 0;
    const int rc = MPI_Testall(count, requests, &complete, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) return status_of(rc);
    if (complete) return {};
    const Clock::time_point now = Clock::now();
    if (now - last_poll > std::chrono::seconds(1)) deadline += now - last_poll;
    last_poll = now;
    if (now >= deadline) return CollectiveStatus::timed_out();  // the requests are abandoned: the caller aborts
    // Spin briefly (a round on shared memory completes in microseconds), then sleep a little.
    if (++spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(spins > 2000 ? 1000 : 50));
  }
}

bool fits_int(size_t n) { return n <= static_cast<size_t>(std::numeric_limits<int>::max()); }

// Elements are moved, never interpreted, by the gathers and the broadcast: one MPI type per size.
MPI_Datatype element_type(size_t element_bytes) {
  switch (element_bytes) {
    case 8:
      return MPI_UINT64_T;
    case 4:
      return MPI_UINT32_T;
    default:
      return MPI_BYTE;
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
}

CollectiveStatus MpiCommunicator::allreduce_sum(const float* send, float* recv, size_t count, Deadline deadline) {
  if (!fits_int(count)) return status_of(MPI_ERR_COUNT);
  MPI_Request request = MPI_REQUEST_NULL;
  const int rc = MPI_Iallreduce(send, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm_, &request);
  if (rc != MPI_SUCCESS) return status_of(rc);
  return wait_all(&request, 1, deadline);
}

CollectiveStatus MpiCommunicator::broadcast(void* data, size_t count, size_t element_bytes, int root,
                                            Deadline deadline) {
  // In pieces that fit an int count.
  constexpr size_t kPiece = size_t{1} << 28;
  char* bytes = static_cast<char*>(data);
  for (size_t at = 0; at < count; at += kPiece) {
    MPI_Request request = MPI_REQUEST_NULL;
    const int n = static_cast<int>(std::min(kPiece, count - at));
    const int rc = MPI_Ibcast(bytes + at * element_bytes, n, element_type(element_bytes), root, comm_, &request);
    if (rc != MPI_SUCCESS) return status_of(rc);
    CollectiveStatus status = wait_all(&request, 1, deadline);
    if (!status.ok()) return status;
  }
  return {};
}

CollectiveStatus MpiCommunicator::allgather(const void* send, size_t count, size_t element_bytes, void* recv,
                                            Deadline deadline) {
  if (!fits_int(count)) return status_of(MPI_ERR_COUNT);
  MPI_Request request = MPI_REQUEST_NULL;
  const MPI_Datatype type = element_type(element_bytes);
  const int rc = MPI_Iallgather(send, static_cast<int>(count), type, recv, static_cast<int>(count), type, comm_, &request);
  if (rc != MPI_SUCCESS) return status_of(rc);
  return wait_all(&request, 1, deadline);
}

CollectiveStatus MpiCommunicator::allgatherv(const void* send, size_t count, size_t element_bytes, void* recv,
                                             const std::vector<size_t>& counts, Deadline deadline) {
  if (counts.size() != static_cast<size_t>(size_)) return CollectiveStatus::failed("allgatherv: one count per process needed");
  std::vector<int> sizes(counts.size()), displs(counts.size());
  size_t total = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    if (!fits_int(counts[r]) || !fits_int(total + counts[r])) return status_of(MPI_ERR_COUNT);
    sizes[r] = static_cast<int>(counts[r]);
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  if (!fits_int(count)) return status_of(MPI_ERR_COUNT);
  MPI_Request request = MPI_REQUEST_NULL;
  const MPI_Datatype type = element_type(element_bytes);
  const int rc = MPI_Iallgatherv(send, static_cast<int>(count), type, recv, sizes.data(), displs.data(), type, comm_,
                                 &request);
  if (rc != MPI_SUCCESS) return status_of(rc);
  return wait_all(&request, 1, deadline);
}

void MpiCommunicator::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

}  // namespace shadowsync::mpi
