// The inter-host shadow-sync thread (see inter_host_sync.hpp).
#include "inter_host_sync.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace

int timed_allreduce_sum(const float* send, float* recv, size_t count, MPI_Comm comm, double timeout_s) {
  if (count > static_cast<size_t>(std::numeric_limits<int>::max())) return MPI_ERR_COUNT;
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Iallreduce(send, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm, &request);
  if (rc != MPI_SUCCESS) return rc;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  int spins = 0;
  for (;;) {
    int complete = 0;
    rc = MPI_Test(&request, &complete, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
    if (complete) return MPI_SUCCESS;
    if (Clock::now() >= deadline) return -1;  // the request is abandoned: the caller aborts
    // Spin briefly (a round on shared memory completes in microseconds), then sleep a little.
    if (++spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(spins > 2000 ? 1000 : 50));
  }
}

InterHostSync::InterHostSync(MPI_Comm comm, InterHostSyncOptions options) : comm_(comm), options_(options) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &hosts_);
}

InterHostSync::~InterHostSync() {
  if (thread_.joinable()) {
    local_done_.store(true, std::memory_order_release);
    thread_.join();
  }
}

void InterHostSync::attach(const ParticipantAccess& access) {
  round_ = std::make_unique<InterHostRound>(access.replicas, access.dense_floats,
                                            options_.sync_embeddings ? access.embeddings : nullptr, hosts_);
  send_.assign(round_->buffer_floats(), 0.0f);
  recv_.assign(round_->buffer_floats(), 0.0f);
}

void InterHostSync::start() {
  if (!round_) throw Error("inter-host sync: started before attach()");
  if (finished_) throw Error("inter-host sync: pauses during training (evaluations, checkpoints) are not supported");
  thread_ = std::thread([this] { loop(); });
}

void InterHostSync::request_stop() { local_done_.store(true, std::memory_order_release); }

void InterHostSync::stop() {
  if (!thread_.joinable()) return;
  local_done_.store(true, std::memory_order_release);
  thread_.join();  // returns after the final round, which every process reaches (or the job aborts)
  finished_ = true;
}

InterHostStats InterHostSync::stats() const {
  InterHostStats s;
  s.rounds = rounds_.load(std::memory_order_relaxed);
  s.busy_s = static_cast<double>(busy_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.allreduce_s = static_cast<double>(allreduce_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.bytes_per_round = round_ ? round_->buffer_floats() * sizeof(float) : 0;
  return s;
}

void InterHostSync::fail(const char* what, int code) {
  char text[MPI_MAX_ERROR_STRING] = "timed out";
  int length = 0;
  if (code != -1) MPI_Error_string(code, text, &length);
  std::fprintf(stderr, "shadowsync: error: inter-host sync (rank %d of %d): %s: %s; aborting every process\n", rank_,
               hosts_, what, text);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

// Runs until a round finds every process done. No exception leaves the thread: a failure aborts
// the job (see the header).
void InterHostSync::loop() {
  bool first = true;
  for (;;) {
    const Clock::time_point start = Clock::now();
    const bool done = local_done_.load(std::memory_order_acquire);
    round_->pack(send_.data(), done);
    const Clock::time_point reduce_start = Clock::now();
    const double timeout = first ? options_.first_round_timeout_s : options_.timeout_s;
    const int rc = timed_allreduce_sum(send_.data(), recv_.data(), send_.size(), comm_, timeout);
    if (rc != MPI_SUCCESS) {
      fail(rc == -1 ? (first ? "the first round did not complete within the first-round timeout"
                             : "a round did not complete within the timeout (a process died or hangs)")
                    : "allreduce failed",
           rc);
    }
    allreduce_ns_.fetch_add(ns_since(reduce_start), std::memory_order_relaxed);
    const int done_hosts = round_->unpack(send_.data(), recv_.data());
    busy_ns_.fetch_add(ns_since(start), std::memory_order_relaxed);
    rounds_.fetch_add(1, std::memory_order_relaxed);
    first = false;
    if (done_hosts >= hosts_) return;
    if (options_.interval_ms > 0) {
      // Sleep in short steps so that the final rounds start soon after this host is done.
      const Clock::time_point next = start + std::chrono::milliseconds(options_.interval_ms);
      while (Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

}  // namespace shadowsync::mpi
