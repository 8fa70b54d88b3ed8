// The inter-host shadow-sync thread (see inter_host_sync.hpp).
#include "inter_host_sync.hpp"

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "shadowsync/core/error.hpp"
#include "sync/replica_access.hpp"

namespace shadowsync::mpi {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point start) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace

CollectiveStatus exchange_round(InterHostRound& round, RoundBuffers& b, Communicator& comm, bool done,
                                double timeout_s, int& done_hosts, bool paused, bool whole_tables) {
  const int hosts = comm.size(), rank = comm.rank();
  const size_t dense = round.dense_buffer_floats();
  b.dense_send.resize(dense);
  b.dense_sum.resize(dense);
  round.pack_dense(b.dense_send.data(), done);
  round.pack_rows(b.keys, b.deltas, whole_tables);
  const size_t row_floats = round.row_floats();
  const Clock::time_point start = Clock::now();
  // The dense model and done flags (sum), and every host's number of changed rows.
  CollectiveStatus status = comm.allreduce_sum(b.dense_send.data(), b.dense_sum.data(), dense, deadline_after(timeout_s));
  if (!status.ok()) return status;
  const uint64_t my_rows = b.keys.size();
  b.row_counts.assign(static_cast<size_t>(hosts), 0);
  status = comm.allgather(&my_rows, 1, sizeof(uint64_t), b.row_counts.data(), deadline_after(timeout_s));
  if (!status.ok()) return status;
  // Every host's changed rows, as 4-byte words: its keys (two words each), then its deltas.
  const size_t key_words = sizeof(uint64_t) / sizeof(uint32_t);
  const size_t words_per_row = key_words + row_floats;
  b.words.resize(static_cast<size_t>(hosts));
  size_t total_rows = 0;
  for (int h = 0; h < hosts; ++h) {
    const uint64_t count = b.row_counts[static_cast<size_t>(h)];
    if (count > (uint64_t{1} << 40)) throw Error("inter-host sync: a process announced " + std::to_string(count) + " changed rows (corrupt exchange)");
    b.words[static_cast<size_t>(h)] = static_cast<size_t>(count) * words_per_row;
    total_rows += static_cast<size_t>(count);
  }
  if (total_rows > 0) {
    b.rows_send.resize(b.keys.size() * words_per_row);
    if (!b.keys.empty()) {
      std::memcpy(b.rows_send.data(), b.keys.data(), b.keys.size() * sizeof(uint64_t));
      std::memcpy(b.rows_send.data() + b.keys.size() * key_words, b.deltas.data(), b.deltas.size() * sizeof(float));
    }
    b.rows_all.resize(total_rows * words_per_row);
    status = comm.allgatherv(b.rows_send.data(), b.rows_send.size(), sizeof(uint32_t), b.rows_all.data(), b.words,
                             deadline_after(timeout_s));
    if (!status.ok()) return status;
  }
  b.collective_s = std::chrono::duration<double>(Clock::now() - start).count();
  b.bytes_sent = dense * sizeof(float) + sizeof(uint64_t) + b.keys.size() * sizeof(uint64_t) + b.deltas.size() * sizeof(float);
  done_hosts = round.unpack_dense(b.dense_send.data(), b.dense_sum.data(), !paused);
  size_t at = 0;  // word of host h's rows in rows_all
  for (int h = 0; h < hosts; ++h) {
    const size_t count = static_cast<size_t>(b.row_counts[static_cast<size_t>(h)]);
    b.all_keys.resize(count);
    b.all_deltas.resize(count * row_floats);
    if (count > 0) {
      std::memcpy(b.all_keys.data(), b.rows_all.data() + at, count * sizeof(uint64_t));
      std::memcpy(b.all_deltas.data(), b.rows_all.data() + at + count * key_words, count * row_floats * sizeof(float));
    }
    at += count * words_per_row;
    if (paused && h != rank) {
      // Kept for resume: the tables must not change while the engine reads them.
      b.pending_keys.insert(b.pending_keys.end(), b.all_keys.begin(), b.all_keys.end());
      b.pending_deltas.insert(b.pending_deltas.end(), b.all_deltas.begin(), b.all_deltas.end());
      continue;
    }
    round.apply_rows(b.all_keys.data(), b.all_deltas.data(), count, h == rank);
  }
  return {};
}

void apply_pending_rows(InterHostRound& round, RoundBuffers& b) {
  round.apply_rows(b.pending_keys.data(), b.pending_deltas.data(), b.pending_keys.size(), false);
  b.pending_keys.clear();
  b.pending_deltas.clear();
}

CollectiveStatus align_to_rank0(const ParticipantAccess& access, bool tables, Communicator& comm, double timeout_s) {
  const Deadline deadline = deadline_after(timeout_s);
  // Dense: rank 0's mean model; every replica moves by (rank 0's mean - its host's mean).
  const size_t n = access.dense_floats;
  std::vector<float> own(n);
  sync_detail::mean_of_replicas(access.replicas, n, own.data());
  std::vector<float> root = own;
  CollectiveStatus status = comm.broadcast(root.data(), n, sizeof(float), 0, deadline);
  if (!status.ok()) return status;
  for (float* r : access.replicas) sync_detail::add_difference_to_replica(r, root.data(), own.data(), n, false, nullptr, 0);
  if (!tables || access.embeddings == nullptr) return {};
  EmbeddingStore& e = *access.embeddings;
  for (int t = 0; t < e.hashing().tables(); ++t) {
    // A table is one contiguous block, padding included (embedding_store.hpp), as are its accumulators.
    status = comm.broadcast(e.table_data(t), e.table_floats(t), sizeof(float), 0, deadline);
    if (status.ok()) status = comm.broadcast(e.accumulator(t), e.rows(t), sizeof(float), 0, deadline);
    if (!status.ok()) return status;
  }
  return {};
}

InterHostSync::InterHostSync(Communicator& comm, InterHostSyncOptions options)
    : comm_(comm), options_(std::move(options)), rank_(comm.rank()), hosts_(comm.size()) {}

InterHostSync::~InterHostSync() {
  if (thread_.joinable()) {
    local_done_.store(true, std::memory_order_release);
    thread_.join();
  }
}

void InterHostSync::attach(const ParticipantAccess& access) {
  if (options_.align_at_start) {
    const CollectiveStatus status = align_to_rank0(access, options_.sync_embeddings, comm_, options_.first_round_timeout_s);
    if (!status.ok()) fail("copying rank 0's model to every process (resume) failed", status);
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

void InterHostSync::fail(const std::string& what, const CollectiveStatus& status) {
  const std::string reason = status.message.empty() ? what : what + ": " + status.message;
  std::fprintf(stderr, "shadowsync: error: inter-host sync (rank %d of %d): %s; aborting every process\n", rank_,
               hosts_, reason.c_str());
  std::fflush(stderr);
  comm_.abort(3);
  std::_Exit(3);
}

// A round of the done flags alone (deterministic runs until every host is done). Returns false
// on failure (after fail(), which does not return).
bool InterHostSync::flags_round(bool done, double timeout, int& done_hosts) {
  const float flag = done ? 1.0f : 0.0f;
  float sum = 0;
  const CollectiveStatus status = comm_.allreduce_sum(&flag, &sum, 1, deadline_after(timeout));
  if (!status.ok()) {
    fail(status.code == CollectiveStatus::kTimedOut ? "a round did not complete within the timeout (a process died or hangs)"
                                                     : "a collective failed",
         status);
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
    CollectiveStatus status;
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
        status = exchange_round(*round_, buffers_, comm_, done, timeout, done_hosts, paused, whole_tables);
        compared_whole_tables_ = compared_whole_tables_ || whole_tables;
      } catch (const std::exception& e) {
        fail(e.what(), CollectiveStatus{});
      }
      if (!status.ok()) {
        fail(status.code == CollectiveStatus::kTimedOut ? (first ? "the first round did not complete within the first-round timeout"
                               : "a round did not complete within the timeout (a process died or hangs)")
                      : "a collective failed",
             status);
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
