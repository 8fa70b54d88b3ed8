// The inter-host shadow-sync thread (see inter_host_sync.hpp).
#include "inter_host_sync.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace

namespace {

// Waits for every request with MPI_Testall and short sleeps, until the deadline. Time this
// process did not run (a gap of over a second between two polls: it was stopped, e.g. Ctrl-Z and
// fg of mpirun, which stop and resume every process) moves the deadline on by the gap, so a
// suspension longer than the timeout does not abort the job on resume.
int wait_all(std::vector<MPI_Request>& requests, Clock::time_point deadline) {
  int spins = 0;
  Clock::time_point last_poll = Clock::now();
  for (;;) {
    int complete = 0;
    const int rc = MPI_Testall(static_cast<int>(requests.size()), requests.data(), &complete, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS) return rc;
    if (complete) return MPI_SUCCESS;
    const Clock::time_point now = Clock::now();
    if (now - last_poll > std::chrono::seconds(1)) deadline += now - last_poll;
    last_poll = now;
    if (now >= deadline) return -1;  // the requests are abandoned: the caller aborts
    // Spin briefly (a round on shared memory completes in microseconds), then sleep a little.
    if (++spins > 200) std::this_thread::sleep_for(std::chrono::microseconds(spins > 2000 ? 1000 : 50));
  }
}

Clock::time_point deadline_after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

bool fits_int(size_t n) { return n <= static_cast<size_t>(std::numeric_limits<int>::max()); }

}  // namespace

int timed_allreduce_sum(const float* send, float* recv, size_t count, MPI_Comm comm, double timeout_s) {
  if (!fits_int(count)) return MPI_ERR_COUNT;
  std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
  const int rc = MPI_Iallreduce(send, recv, static_cast<int>(count), MPI_FLOAT, MPI_SUM, comm, requests.data());
  if (rc != MPI_SUCCESS) return rc;
  return wait_all(requests, deadline_after(timeout_s));
}

int exchange_round(InterHostRound& round, RoundBuffers& b, MPI_Comm comm, bool done, double timeout_s,
                   int& done_hosts, bool paused, bool whole_tables) {
  int hosts = 1, rank = 0;
  MPI_Comm_size(comm, &hosts);
  MPI_Comm_rank(comm, &rank);
  const size_t dense = round.dense_buffer_floats();
  b.dense_send.resize(dense);
  b.dense_sum.resize(dense);
  round.pack_dense(b.dense_send.data(), done);
  round.pack_rows(b.keys, b.deltas, whole_tables);
  const size_t row_floats = round.row_floats();
  if (!fits_int(dense) || !fits_int(b.deltas.size())) return MPI_ERR_COUNT;
  const Clock::time_point start = Clock::now();
  // Phase 1: the dense model and done flags (sum), and every host's number of changed rows.
  b.row_counts.assign(static_cast<size_t>(hosts), 0);
  int my_rows = static_cast<int>(b.keys.size());
  std::vector<MPI_Request> requests(2, MPI_REQUEST_NULL);
  int rc = MPI_Iallreduce(b.dense_send.data(), b.dense_sum.data(), static_cast<int>(dense), MPI_FLOAT, MPI_SUM, comm,
                          &requests[0]);
  if (rc == MPI_SUCCESS) rc = MPI_Iallgather(&my_rows, 1, MPI_INT, b.row_counts.data(), 1, MPI_INT, comm, &requests[1]);
  if (rc == MPI_SUCCESS) rc = wait_all(requests, deadline_after(timeout_s));
  if (rc != MPI_SUCCESS) return rc;
  // Phase 2: every host's changed rows (keys, then deltas).
  b.key_displs.assign(static_cast<size_t>(hosts), 0);
  b.value_counts.assign(static_cast<size_t>(hosts), 0);
  b.value_displs.assign(static_cast<size_t>(hosts), 0);
  size_t total_rows = 0;
  for (int h = 0; h < hosts; ++h) {
    const size_t count = static_cast<size_t>(b.row_counts[static_cast<size_t>(h)]);
    if (!fits_int(total_rows + count) || !fits_int((total_rows + count) * row_floats)) return MPI_ERR_COUNT;
    b.key_displs[static_cast<size_t>(h)] = static_cast<int>(total_rows);
    b.value_displs[static_cast<size_t>(h)] = static_cast<int>(total_rows * row_floats);
    b.value_counts[static_cast<size_t>(h)] = static_cast<int>(count * row_floats);
    total_rows += count;
  }
  if (total_rows > 0) {
    b.all_keys.resize(total_rows);
    b.all_deltas.resize(total_rows * row_floats);
    requests.assign(2, MPI_REQUEST_NULL);
    rc = MPI_Iallgatherv(b.keys.data(), my_rows, MPI_UINT64_T, b.all_keys.data(), b.row_counts.data(),
                         b.key_displs.data(), MPI_UINT64_T, comm, &requests[0]);
    if (rc == MPI_SUCCESS) {
      rc = MPI_Iallgatherv(b.deltas.data(), static_cast<int>(b.deltas.size()), MPI_FLOAT, b.all_deltas.data(),
                           b.value_counts.data(), b.value_displs.data(), MPI_FLOAT, comm, &requests[1]);
    }
    if (rc == MPI_SUCCESS) rc = wait_all(requests, deadline_after(timeout_s));
    if (rc != MPI_SUCCESS) return rc;
  }
  b.collective_s = std::chrono::duration<double>(Clock::now() - start).count();
  b.bytes_sent = dense * sizeof(float) + sizeof(int) + b.keys.size() * sizeof(uint64_t) + b.deltas.size() * sizeof(float);
  done_hosts = round.unpack_dense(b.dense_send.data(), b.dense_sum.data(), !paused);
  for (int h = 0; h < hosts; ++h) {
    const size_t first = static_cast<size_t>(b.key_displs[static_cast<size_t>(h)]);
    const size_t count = static_cast<size_t>(b.row_counts[static_cast<size_t>(h)]);
    if (paused && h != rank) {
      // Kept for resume: the tables must not change while the engine reads them.
      b.pending_keys.insert(b.pending_keys.end(), b.all_keys.begin() + static_cast<ptrdiff_t>(first),
                            b.all_keys.begin() + static_cast<ptrdiff_t>(first + count));
      b.pending_deltas.insert(b.pending_deltas.end(),
                              b.all_deltas.begin() + static_cast<ptrdiff_t>(first * row_floats),
                              b.all_deltas.begin() + static_cast<ptrdiff_t>((first + count) * row_floats));
      continue;
    }
    round.apply_rows(b.all_keys.data() + first, b.all_deltas.data() + first * row_floats, count, h == rank);
  }
  return MPI_SUCCESS;
}

void apply_pending_rows(InterHostRound& round, RoundBuffers& b) {
  round.apply_rows(b.pending_keys.data(), b.pending_deltas.data(), b.pending_keys.size(), false);
  b.pending_keys.clear();
  b.pending_deltas.clear();
}

namespace {

// Broadcasts `count` floats from rank 0 in pieces that fit an int count.
int broadcast_floats(float* data, size_t count, MPI_Comm comm, Clock::time_point deadline) {
  constexpr size_t kPiece = size_t{1} << 28;
  for (size_t at = 0; at < count; at += kPiece) {
    std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
    const int n = static_cast<int>(std::min(kPiece, count - at));
    int rc = MPI_Ibcast(data + at, n, MPI_FLOAT, 0, comm, requests.data());
    if (rc == MPI_SUCCESS) rc = wait_all(requests, deadline);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
}

}  // namespace

int align_to_rank0(const ParticipantAccess& access, bool tables, MPI_Comm comm, double timeout_s) {
  const Clock::time_point deadline = deadline_after(timeout_s);
  // Dense: rank 0's mean model; every replica moves by (rank 0's mean - its host's mean).
  const size_t n = access.dense_floats;
  std::vector<float> own(n, 0.0f), root(n);
  const float scale = 1.0f / static_cast<float>(access.replicas.size());
  for (const float* r : access.replicas) {
    for (size_t i = 0; i < n; ++i) own[i] += r[i] * scale;
  }
  root = own;
  int rc = broadcast_floats(root.data(), n, comm, deadline);
  if (rc != MPI_SUCCESS) return rc;
  for (float* r : access.replicas) {
    for (size_t i = 0; i < n; ++i) r[i] += root[i] - own[i];
  }
  if (!tables || access.embeddings == nullptr) return MPI_SUCCESS;
  EmbeddingStore& e = *access.embeddings;
  for (int t = 0; t < kNumSparse; ++t) {
    // A table is one contiguous block, padding included (embedding_store.hpp), as are its accumulators.
    rc = broadcast_floats(e.table_data(t), e.table_floats(t), comm, deadline);
    if (rc == MPI_SUCCESS) rc = broadcast_floats(e.accumulator(t), e.rows(t), comm, deadline);
    if (rc != MPI_SUCCESS) return rc;
  }
  return MPI_SUCCESS;
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
  if (options_.align_at_start) {
    const int rc = align_to_rank0(access, options_.sync_embeddings, comm_, options_.first_round_timeout_s);
    if (rc != MPI_SUCCESS) fail("copying rank 0's model to every process (resume) failed", rc);
  }
  round_ = std::make_unique<InterHostRound>(access.replicas, access.dense_floats,
                                            options_.sync_embeddings ? access.embeddings : nullptr, hosts_,
                                            options_.rule);
  round_->set_touched_rows(access.touched_rows);
}

void InterHostSync::start() {
  if (!round_) throw Error("inter-host sync: started before attach()");
  if (finished_) return;  // this host was done and the final round has run: nothing to resume
  if (thread_.joinable()) {  // the end of a pause
    std::lock_guard lock(mode_mutex_);
    mode_ = Mode::Active;
    return;
  }
  thread_ = std::thread([this] { loop(); });
}

void InterHostSync::request_stop() { local_done_.store(true, std::memory_order_release); }

void InterHostSync::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mode_mutex_);
    if (mode_ == Mode::Paused && local_done_.load(std::memory_order_acquire)) {
      // The run ended during a pause (an error on this process; its workers were joined): do not
      // wait for the other processes to finish. The thread leaves at its next round; this process
      // then exits with its error and the job is aborted (train_hook.cpp).
      abandon_ = true;
    }
  }
  if (abandon_) {
    thread_.join();
    finished_ = true;
    return;
  }
  if (!local_done_.load(std::memory_order_acquire)) {
    // A pause: wait for a round that started after this call, then the thread goes passive.
    std::unique_lock lock(mode_mutex_);
    mode_ = Mode::PauseRequested;
    mode_changed_.wait(lock, [this] { return mode_ == Mode::Paused; });
    return;
  }
  thread_.join();  // returns after the final round, which every process reaches (or the job aborts)
  finished_ = true;
}

InterHostStats InterHostSync::stats() const {
  InterHostStats s;
  s.rounds = rounds_.load(std::memory_order_relaxed);
  s.busy_s = static_cast<double>(busy_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.allreduce_s = static_cast<double>(allreduce_ns_.load(std::memory_order_relaxed)) * 1e-9;
  s.bytes_per_round = s.rounds > 0 ? static_cast<double>(bytes_.load(std::memory_order_relaxed)) / s.rounds : 0;
  s.spread_sq = spread_sq_.load(std::memory_order_relaxed);
  s.mean_norm_sq = mean_norm_sq_.load(std::memory_order_relaxed);
  return s;
}

void InterHostSync::fail(const char* what, int code) {
  std::string reason = what;
  if (code == -1) {
    reason += ": timed out";
  } else if (code != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING] = "";
    int length = 0;
    MPI_Error_string(code, text, &length);
    reason += std::string(": ") + text;
  }
  std::fprintf(stderr, "shadowsync: error: inter-host sync (rank %d of %d): %s; aborting every process\n", rank_,
               hosts_, reason.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

// A round of the done flags alone (deterministic runs until every host is done). Returns false
// on failure (after fail(), which does not return).
bool InterHostSync::flags_round(bool done, double timeout, int& done_hosts) {
  const float flag = done ? 1.0f : 0.0f;
  float sum = 0;
  const int rc = timed_allreduce_sum(&flag, &sum, 1, comm_, timeout);
  if (rc != MPI_SUCCESS) {
    fail(rc == -1 ? "a round did not complete within the timeout (a process died or hangs)" : "a collective failed", rc);
  }
  done_hosts = static_cast<int>(std::lround(sum));
  return true;
}

// Runs until a round finds every process done. No exception leaves the thread: a failure aborts
// the job (see the header).
void InterHostSync::loop() {
  bool first = true;
  for (;;) {
    const Clock::time_point start = Clock::now();
    const bool done = local_done_.load(std::memory_order_acquire);
    Mode mode;
    {
      std::lock_guard lock(mode_mutex_);
      if (abandon_) return;
      mode = mode_;
    }
    // Once this host is done (the end of the run, or an error path) nobody reads the replicas.
    const bool paused = mode == Mode::Paused && !done;
    const double timeout = first ? options_.first_round_timeout_s : options_.timeout_s;
    int done_hosts = 0;
    int rc = MPI_SUCCESS;
    bool full_round = true;
    if (options_.final_round_only) {
      // Deterministic: the flags alone until every host is done, then the one full round.
      flags_round(done, timeout, done_hosts);
      full_round = done_hosts >= hosts_;
    }
    if (full_round) {
      try {
        if (!paused && !buffers_.pending_keys.empty()) apply_pending_rows(*round_, buffers_);
        // The first round after this host's workers finished compares whole tables once, so the
        // final state is exact whatever the workers' marks missed (touched_rows.hpp).
        const bool whole_tables = done && !compared_whole_tables_ && !options_.stopped.stop_requested();
        rc = exchange_round(*round_, buffers_, comm_, done, timeout, done_hosts, paused, whole_tables);
        compared_whole_tables_ = compared_whole_tables_ || whole_tables;
      } catch (const std::exception& e) {
        fail(e.what(), MPI_SUCCESS);
      }
      if (rc != MPI_SUCCESS) {
        fail(rc == -1 ? (first ? "the first round did not complete within the first-round timeout"
                               : "a round did not complete within the timeout (a process died or hangs)")
                      : "a collective failed",
             rc);
      }
      allreduce_ns_.fetch_add(static_cast<uint64_t>(buffers_.collective_s * 1e9), std::memory_order_relaxed);
      bytes_.fetch_add(buffers_.bytes_sent, std::memory_order_relaxed);
      busy_ns_.fetch_add(ns_since(start), std::memory_order_relaxed);
      spread_sq_.store(round_->last_spread_sq(), std::memory_order_relaxed);
      mean_norm_sq_.store(round_->last_mean_norm_sq(), std::memory_order_relaxed);
      rounds_.fetch_add(1, std::memory_order_relaxed);
    }
    first = false;
    if (mode == Mode::PauseRequested) {
      // This round started after the pause began (the workers were parked): the pause may go on.
      std::lock_guard lock(mode_mutex_);
      if (mode_ == Mode::PauseRequested) mode_ = Mode::Paused;
      mode_changed_.notify_all();
    }
    if (done_hosts >= hosts_) {
      std::lock_guard lock(mode_mutex_);
      mode_ = Mode::Paused;  // a stop() waiting for a pause returns
      mode_changed_.notify_all();
      return;
    }
    if (options_.interval_ms > 0) {
      // Sleep in short steps so that the final rounds start soon after this host is done.
      const Clock::time_point next = start + std::chrono::milliseconds(options_.interval_ms);
      while (Clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

}  // namespace shadowsync::mpi
