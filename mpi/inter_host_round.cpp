// The local halves of an inter-host round (see inter_host_round.hpp): the rules' arithmetic is
// src/sync's (rule_step.hpp), the replicas' accesses replica_access.hpp's.
#include "inter_host_round.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/rule_step.hpp"
#include "sync/replica_access.hpp"

namespace shadowsync::mpi {
namespace {

using sync_detail::relaxed_load;

// row[k] += d with the replicas' relaxed accesses (Hogwild workers may write the row meanwhile).
void add_relaxed(float* p, float d) { sync_detail::relaxed_store(p, relaxed_load(p) + d); }

}  // namespace

InterHostRound::InterHostRound(std::vector<float*> replicas, size_t n, EmbeddingStore* embeddings, int hosts,
                               const SyncParams& rule)
    : replicas_(std::move(replicas)), n_(n), embeddings_(embeddings), hosts_(hosts), rule_(rule) {
  if (replicas_.empty() || n_ == 0) throw Error("inter-host sync: no dense replicas to synchronize");
  if (hosts_ < 1) throw Error("inter-host sync: hosts must be at least 1");
  if (rule_.kind != SyncRuleKind::MA) {
    // The rule's state starts at the host model (identical on every host: same seed).
    center_.resize(n_);
    sync_detail::mean_of_replicas(replicas_, n_, center_.data());
    if (has_block_momentum(rule_.kind)) momentum_.assign(n_, 0.0f);
  }
  if (embeddings_ == nullptr) return;
  dim_ = embeddings_->dim();
  row_floats_ = static_cast<size_t>(dim_) + 1;
  uint64_t key = 0;
  const int tables = embeddings_->hashing().tables();  // the model's schema's tables
  for (int t = 0; t < tables; ++t) {
    table_start_.push_back(key);
    key += embeddings_->rows(t);
  }
  table_start_.push_back(key);
  base_.reserve(key * row_floats_);
  for (int t = 0; t < tables; ++t) {
    for (size_t r = 0; r < embeddings_->rows(t); ++r) {
      const float* row = embeddings_->row(t, static_cast<uint32_t>(r));
      for (int k = 0; k < dim_; ++k) base_.push_back(relaxed_load(row + k));
      base_.push_back(relaxed_load(embeddings_->accumulator(t) + r));
    }
  }
}

void InterHostRound::pack_dense(float* out, bool done) const {
  sync_detail::mean_of_replicas(replicas_, n_, out);
  out[n_] = done ? 1.0f : 0.0f;
}

int InterHostRound::unpack_dense(const float* sent, const float* sum, bool write_back) {
  const int done_hosts = static_cast<int>(std::lround(sum[n_]));
  const bool final_round = done_hosts >= hosts_;
  const size_t hosts = static_cast<size_t>(hosts_);
  // The hosts' mean m (and, below, each host's target), by the rules' arithmetic (rule_step.hpp).
  target_.assign(sum, sum + n_);
  rule_step::mean_in_place(target_.data(), n_, hosts);
  double spread_sq = 0;
  double mean_norm_sq = 0;
  for (size_t i = 0; i < n_; ++i) {
    const double s = sent[i], m = target_[i];
    spread_sq += (s - m) * (s - m);
    mean_norm_sq += m * m;
  }
  last_spread_sq_ = spread_sq;
  last_mean_norm_sq_ = mean_norm_sq;
  // The final round (every host done) is MA for every rule: every host ends with the same model.
  // Every local replica moves by this host's target - s (the delta write-back).
  if (!final_round && rule_.kind == SyncRuleKind::EASGD) {
    // Parallel EASGD: this host pulled against the center, the center moved by every host's pull.
    delta_.resize(n_);
    rule_step::easgd_pull(rule_.alpha, sent, center_.data(), delta_.data(), n_, false);
    rule_step::easgd_center_from_sum(rule_.alpha, sum, hosts, center_.data(), n_);
    if (!write_back) return done_hosts;
    for (float* r : replicas_) sync_detail::add_to_replica(r, delta_.data(), n_, false, nullptr, 0);
    return done_hosts;
  }
  if (!final_round) rule_step::mean_rule(rule_, target_.data(), center_.data(), momentum_.data(), n_);
  if (!write_back) return done_hosts;
  for (float* r : replicas_) sync_detail::add_difference_to_replica(r, target_.data(), sent, n_, false, nullptr, 0);
  return done_hosts;
}

void InterHostRound::pack_rows(std::vector<uint64_t>& keys, std::vector<float>& deltas, bool whole_tables) const {
  keys.clear();
  deltas.clear();
  if (embeddings_ == nullptr) return;
  const bool marked_only = touched_ != nullptr && !whole_tables;
  std::vector<float> row_delta(row_floats_);
  for (int t = 0; t < embeddings_->hashing().tables(); ++t) {
    const float* accumulator = embeddings_->accumulator(t);
    for (size_t r = 0; r < embeddings_->rows(t); ++r) {
      if (marked_only && !touched_->take(t, r)) continue;
      const uint64_t key = table_start_[static_cast<size_t>(t)] + r;
      const float* base = base_.data() + key * row_floats_;
      const float* row = embeddings_->row(t, static_cast<uint32_t>(r));
      bool changed = false;
      for (int k = 0; k < dim_; ++k) {
        row_delta[static_cast<size_t>(k)] = relaxed_load(row + k) - base[k];
        changed = changed || row_delta[static_cast<size_t>(k)] != 0.0f;
      }
      row_delta[static_cast<size_t>(dim_)] = relaxed_load(accumulator + r) - base[dim_];
      changed = changed || row_delta[static_cast<size_t>(dim_)] != 0.0f;
      if (!changed) continue;
      keys.push_back(key);
      deltas.insert(deltas.end(), row_delta.begin(), row_delta.end());
    }
  }
}

void InterHostRound::apply_rows(const uint64_t* keys, const float* deltas, size_t count, bool own) {
  if (embeddings_ == nullptr) return;
  for (size_t i = 0; i < count; ++i) {
    const uint64_t key = keys[i];
    if (key >= table_start_.back()) throw Error("inter-host sync: a row key is out of range (corrupt exchange)");
    const int t = static_cast<int>(std::upper_bound(table_start_.begin(), table_start_.end(), key) -
                                   table_start_.begin()) - 1;
    const uint32_t r = static_cast<uint32_t>(key - table_start_[static_cast<size_t>(t)]);
    const float* d = deltas + i * row_floats_;
    float* base = base_.data() + key * row_floats_;
    for (size_t k = 0; k < row_floats_; ++k) base[k] += d[k];
    if (own) continue;
    float* row = embeddings_->row(t, r);
    for (int k = 0; k < dim_; ++k) add_relaxed(row + k, d[k]);
    add_relaxed(embeddings_->accumulator(t) + r, d[dim_]);
  }
}

}  // namespace shadowsync::mpi
