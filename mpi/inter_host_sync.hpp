// InterHostSync: the second level of shadow sync. One background thread per process runs
// InterHostRound rounds (MA of the dense model, sparse summed deltas of the embedding rows) with the
// other processes over a Communicator (communicator.hpp) that only it uses, so the local Hogwild workers never wait
// for the network. A BackgroundParticipant (shadowsync/train/background_participant.hpp): the
// engine starts it with its sync schedule and stops it at the end of the run.
//
// Stopping is collective: every round's sum carries a done flag. A process whose workers have
// finished keeps running rounds (its stop() waits) until every process is done; the round in
// which all are done is the final sync, after which every process holds the same dense model and
// tables.
//
// Pauses (the engine parks its workers for an evaluation or a checkpoint and calls stop() without
// request_stop() first): stop() returns after one more complete round that started after the
// call (so a checkpoint written in the pause holds the model right after an inter-host round).
// While paused the thread keeps taking part in rounds, so that the other processes, which pause
// at other times or not at all, never wait for this one: it sends its (parked) model and its
// changed rows, advances the rule's state, but writes nothing into the replicas or the tables;
// the rows other hosts changed meanwhile are kept and applied when start() resumes it.
// stop() after request_stop() ends it for good; stop() after request_stop() during a pause (the
// run ended with an error while parked) leaves without waiting for the other processes.
//
// Resuming (align_at_start): attach() first copies rank 0's dense model (the mean of its
// replicas, added to every local replica as a delta), tables and accumulators to every process,
// so that every host starts from the same values (each resumed from its own checkpoint part).
//
// Stopped by a signal (options.stopped): the final round compares only the marked rows (the
// whole-table comparison scans every table, too slow for mpirun's one second before SIGKILL).
//
// Deterministic runs (final_round_only): until every host is done, rounds carry only the done
// flags (the timeouts still apply); the one full round is the final one, when every host has
// finished its rows, in a fixed order: two runs give the same bits.
//
// Failures: a collective that does not complete within the timeout (a peer died or hangs), or
// fails, prints one line naming the rank and aborts the whole job (Communicator::abort(), over
// MPI MPI_Abort), so that no process waits forever; mpirun then exits non-zero.
// No MPI here: the collectives are the Communicator's (MpiCommunicator under mpirun,
// InProcessWorld's in the tests).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <stop_token>
#include <memory>
#include <thread>
#include <vector>

#include "communicator.hpp"
#include "inter_host_round.hpp"
#include "shadowsync/train/background_participant.hpp"

namespace shadowsync::mpi {

struct InterHostSyncOptions {
  int interval_ms = 20;            // round start to round start while training (0 = back to back)
  double timeout_s = 20;           // longest wait for one round once the first has completed
  double first_round_timeout_s = 120;  // the first round also waits for the slowest process to load
  bool sync_embeddings = true;
  bool align_at_start = false;     // copy rank 0's model and tables to every process in attach()
  bool final_round_only = false;   // deterministic: flags only until every host is done
  // Set when the run is stopped by a signal (Ctrl-C to mpirun): the final round then exchanges
  // only the rows the workers marked, not whole tables, so that every process writes its stop
  // checkpoint within the launcher's window (a resume aligns every host to rank 0 anyway).
  std::stop_token stopped;
  SyncParams rule;                 // the dense rule across hosts (inter_host_round.hpp)
};

// Timing of the rounds so far (for the leader's report).
struct InterHostStats {
  uint64_t rounds = 0;
  double busy_s = 0;        // inside rounds (pack + collectives + unpack)
  double allreduce_s = 0;   // inside the collectives alone
  double bytes_per_round = 0;  // mean bytes this host sent per round (dense model + changed rows)
  // Of the last round: this host's dense model against the hosts' mean (InterHostRound).
  double spread_sq = 0;
  double mean_norm_sq = 0;
};

// The buffers of one process's rounds (reused from round to round).
struct RoundBuffers {
  std::vector<float> dense_send, dense_sum;
  std::vector<uint64_t> keys, all_keys;
  std::vector<float> deltas, all_deltas;
  std::vector<uint64_t> row_counts;         // every host's changed rows
  std::vector<uint32_t> rows_send, rows_all;  // the rows' exchange: per host its keys, then deltas
  std::vector<size_t> words;                  // 4-byte words of each host's rows
  std::vector<uint64_t> pending_keys;  // rows other hosts changed while this one was paused
  std::vector<float> pending_deltas;
  uint64_t bytes_sent = 0;     // by this process in the last round
  double collective_s = 0;     // in the last round's collectives
};

// One whole inter-host round on `comm` (every participant calls it): pack, an allreduce of the
// dense model with the done flags, an allgather of the row counts and one of the changed rows
// (keys and deltas), unpack. Each wait gives up after timeout_s. Returns the status (and, when
// ok, the hosts done in done_hosts). Throws Error on a corrupt exchange.
// paused: write nothing into the replicas or tables; the other hosts' rows go to
// buffers.pending_* (apply_pending_rows() applies them later).
// whole_tables: compare every row with the copy, not only the rows the workers marked.
CollectiveStatus exchange_round(InterHostRound& round, RoundBuffers& buffers, Communicator& comm, bool done,
                                double timeout_s, int& done_hosts, bool paused = false, bool whole_tables = false);
void apply_pending_rows(InterHostRound& round, RoundBuffers& buffers);

// Copies rank 0's dense model (as a delta into every replica), tables and accumulators to every
// participant of `comm` (every participant calls it).
CollectiveStatus align_to_rank0(const ParticipantAccess& access, bool tables, Communicator& comm, double timeout_s);

class InterHostSync final : public BackgroundParticipant {
 public:
  // `comm`: a communicator only this object uses, of every process; it must outlive this object.
  InterHostSync(Communicator& comm, InterHostSyncOptions options);
  ~InterHostSync() override;

  void attach(const ParticipantAccess& access) override;
  void start() override;
  void stop() override;
  void request_stop() override;

  InterHostStats stats() const;
  const SyncParams& rule() const { return options_.rule; }

 private:
  enum class Mode { Active, PauseRequested, Paused };
  void loop();
  bool flags_round(bool done, double timeout, int& done_hosts);
  [[noreturn]] void fail(const std::string& what, const CollectiveStatus& status);

  Communicator& comm_;
  InterHostSyncOptions options_;
  int rank_ = 0;
  int hosts_ = 1;
  std::unique_ptr<InterHostRound> round_;
  RoundBuffers buffers_;
  std::thread thread_;
  bool finished_ = false;
  bool compared_whole_tables_ = false;  // the sync thread's
  std::atomic<bool> local_done_{false};
  std::mutex mode_mutex_;
  std::condition_variable mode_changed_;
  Mode mode_ = Mode::Active;  // guarded by mode_mutex_
  bool abandon_ = false;      // guarded by mode_mutex_ (read unlocked only by the thread calling stop())
  std::atomic<uint64_t> rounds_{0};
  std::atomic<uint64_t> busy_ns_{0};
  std::atomic<uint64_t> allreduce_ns_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<double> spread_sq_{0};
  std::atomic<double> mean_norm_sq_{0};
};

}  // namespace shadowsync::mpi
