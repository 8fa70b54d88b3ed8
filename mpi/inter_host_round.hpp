// InterHostRound: the local halves of one inter-host shadow-sync round, around the collectives the
// caller runs (exchange_round() over a Communicator, by hand in the tests). No MPI here.
//
//  - Dense: pack_dense() writes [s | done], s = the mean of the local replicas (n floats) and
//    done = 1 when this host has finished training; after the sum S over the H hosts,
//    unpack_dense() computes this host's target t and adds (t - s) to every local replica (delta
//    write-back, as the intra-host rules do: updates made by workers between pack and unpack are
//    kept), and returns how many hosts were done (H: the final round, every host packed its final
//    state). Targets, with m = S / H (every host computes the rule's state identically from S):
//      MA:    t = m.
//      EASGD: (parallel elastic averaging, all hosts at once) d = alpha (s - c); t = s - d;
//             c += alpha (S - H c). The center c starts at the host model of attach time.
//      BMUF, PA: m is the mean of BMUF's equations (sync_rule.hpp), w_global starting at the host
//             model of attach time.
//    The arithmetic is src/sync's (shadowsync/sync/rule_step.hpp), the one the shadow threads
//    inside a host run: MA / BMUF / PA by mean_rule() on m, EASGD by easgd_pull() (this host
//    against c) and easgd_center_from_sum() (every host's pull at once).
//    The final round (every host done) is MA for every rule, so that all hosts end identical.
//  - Embedding tables and their row-wise Adagrad accumulators, sparse summed deltas (GEO-style):
//    each host keeps a copy `base` of the values as of the last round. pack_rows() lists the rows
//    whose values or accumulator differ from the copy (row key = table offset + row) with their
//    deltas (dim floats, then the accumulator's); every host's list reaches every host (an
//    allgather), and apply_rows() adds another host's deltas to the tables and to the copy, and
//    this host's own deltas to the copy only. A row several hosts changed gets the sum of their
//    changes; rows nobody touched cost nothing on the network. After a quiet round every host
//    holds identical tables. Finding the changed rows: with the workers' marks (TouchedRows) only
//    the marked rows are compared with the copy; without, every row is.
// Replicas and tables are read and written with src/sync/replica_access.hpp's accessors, the
// memory model of sync_rule.hpp (Hogwild workers may write them concurrently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/sync/sync_rule.hpp"
#include "shadowsync/train/touched_rows.hpp"

namespace shadowsync::mpi {

class InterHostRound {
 public:
  // replicas: >= 1 pointers to n floats each; embeddings may be nullptr (dense only). The base
  // copy is taken now: every host must start from the same values. Throws Error on bad arguments.
  // `rule`: kind and parameters of the dense rule across hosts (chunk_floats, nontemporal unused).
  InterHostRound(std::vector<float*> replicas, size_t n, EmbeddingStore* embeddings, int hosts,
                 const SyncParams& rule = SyncParams{});

  size_t dense_buffer_floats() const { return n_ + 1; }
  // Floats per listed row: dim deltas, then the accumulator's.
  size_t row_floats() const { return row_floats_; }
  bool has_embeddings() const { return embeddings_ != nullptr; }

  // Fills out[0, dense_buffer_floats()).
  void pack_dense(float* out, bool done) const;
  // `sent` is what pack_dense() wrote, `sum` the sum over every host. Returns the hosts done.
  // write_back = false (this host is paused: its replicas must not be written) advances the
  // rule's state (EASGD center, BMUF) identically to every other host but leaves the replicas.
  int unpack_dense(const float* sent, const float* sum, bool write_back = true);
  // Of the last unpack_dense: sum_i (sent_i - mean_i)^2 (this host's model against the hosts'
  // mean) and sum_i mean_i^2. The run's divergence between hosts is
  // sqrt(sum over hosts of the first / H) / sqrt(the second), as replica_divergence within a host.
  double last_spread_sq() const { return last_spread_sq_; }
  double last_mean_norm_sq() const { return last_mean_norm_sq_; }

  // Replaces keys / deltas with the rows changed since the last round (deltas: row_floats() per
  // key, in key order). With touched rows (set_touched_rows) only the marked rows are compared
  // (and their marks taken), unless whole_tables: then every row is (the final round, which must
  // be exact whatever the marks say).
  void pack_rows(std::vector<uint64_t>& keys, std::vector<float>& deltas, bool whole_tables = false) const;
  // The workers' marks of the rows they updated (shadowsync/train/touched_rows.hpp); nullptr: scan.
  void set_touched_rows(TouchedRows* touched) { touched_ = touched; }
  // Applies `count` rows another host (own = false) or this host (own = true) listed.
  void apply_rows(const uint64_t* keys, const float* deltas, size_t count, bool own);

 private:
  std::vector<float*> replicas_;
  size_t n_;
  EmbeddingStore* embeddings_;
  int hosts_;
  SyncParams rule_;
  std::vector<float> center_;    // EASGD center, BMUF w_global
  std::vector<float> momentum_;  // BMUF delta
  std::vector<float> target_, delta_;  // scratch of unpack_dense()
  double last_spread_sq_ = 0;
  double last_mean_norm_sq_ = 0;
  int dim_ = 0;
  size_t row_floats_ = 0;
  std::vector<uint64_t> table_start_;  // key of row 0 of each table (and the total at the end)
  std::vector<float> base_;            // per key: dim values, then the accumulator
  TouchedRows* touched_ = nullptr;
};

}  // namespace shadowsync::mpi
