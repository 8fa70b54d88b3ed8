// InterHostRound: the local halves of one inter-host shadow-sync round (model averaging), around
// a sum-allreduce of one float buffer that the caller runs (over MPI in the sync thread, by hand
// in the tests). No MPI here.
//
// The buffer is [dense (n floats) | tables (E floats) | accumulators (A floats) | done flag].
//  - Dense, MA across hosts: pack() writes s = the mean of the local replicas; after the sum over
//    H hosts, unpack() adds (S / H - s) to every local replica (delta write-back, as the
//    intra-host rules do: updates made by workers between pack and unpack are kept).
//  - Embedding tables and their row-wise Adagrad accumulators, summed deltas (GEO-style): each
//    host keeps a copy `base` of the values at the last round; pack() writes d = current - base;
//    unpack() adds (D - d) (the other hosts' changes) to the current values and base += D. Rows a
//    host did not touch carry d = 0. Every host ends a quiet round with identical tables.
//  - Done flag: pack() writes 1 when this host has finished training; unpack() returns how many
//    hosts had (H means this was the final round: every host packed its final state).
// Replicas and tables are read and written with relaxed std::atomic_ref<float> accesses, the
// memory model of sync_rule.hpp (Hogwild workers may write them concurrently).
#pragma once

#include <cstddef>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"

namespace shadowsync::mpi {

class InterHostRound {
 public:
  // replicas: >= 1 pointers to n floats each; embeddings may be nullptr (dense only). The
  // embedding base copy is taken now: every host must start from the same values.
  InterHostRound(std::vector<float*> replicas, size_t n, EmbeddingStore* embeddings, int hosts);

  size_t buffer_floats() const { return n_ + table_floats_ + accumulator_floats_ + 1; }
  size_t dense_floats() const { return n_; }
  size_t embedding_floats() const { return table_floats_ + accumulator_floats_; }
  // Fills out[0, buffer_floats()).
  void pack(float* out, bool done) const;
  // `sent` is what pack() wrote, `sum` the sum over every host of what they packed. Returns the
  // number of hosts that were done.
  int unpack(const float* sent, const float* sum);

 private:
  std::vector<float*> replicas_;
  size_t n_;
  EmbeddingStore* embeddings_;
  int hosts_;
  size_t table_floats_ = 0;
  size_t accumulator_floats_ = 0;
  std::vector<float> base_;  // tables then accumulators, as last agreed
};

}  // namespace shadowsync::mpi
