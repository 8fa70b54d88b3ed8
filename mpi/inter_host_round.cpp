// The local halves of an inter-host round (see inter_host_round.hpp).
#include "inter_host_round.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {
namespace {

float load(const float* p) { return std::atomic_ref<float>(*const_cast<float*>(p)).load(std::memory_order_relaxed); }
void add(float* p, float d) {
  std::atomic_ref<float> ref(*p);
  ref.store(ref.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

}  // namespace

InterHostRound::InterHostRound(std::vector<float*> replicas, size_t n, EmbeddingStore* embeddings, int hosts,
                               const SyncParams& rule)
    : replicas_(std::move(replicas)), n_(n), embeddings_(embeddings), hosts_(hosts), rule_(rule) {
  if (replicas_.empty() || n_ == 0) throw Error("inter-host sync: no dense replicas to synchronize");
  if (hosts_ < 1) throw Error("inter-host sync: hosts must be at least 1");
  if (rule_.kind != SyncRuleKind::MA) {
    // The rule's state starts at the host model (identical on every host: same seed).
    center_.resize(n_);
    const float scale = 1.0f / static_cast<float>(replicas_.size());
    for (size_t i = 0; i < n_; ++i) {
      float sum = 0;
      for (const float* r : replicas_) sum += load(r + i);
      center_[i] = sum * scale;
    }
    if (has_block_momentum(rule_.kind)) {
      momentum_.assign(n_, 0.0f);
      start_ = center_;
    }
  }
  if (embeddings_ == nullptr) return;
  dim_ = embeddings_->dim();
  row_floats_ = static_cast<size_t>(dim_) + 1;
  uint64_t key = 0;
  for (int t = 0; t < kNumSparse; ++t) {
    table_start_.push_back(key);
    key += embeddings_->rows(t);
  }
  table_start_.push_back(key);
  base_.reserve(key * row_floats_);
  for (int t = 0; t < kNumSparse; ++t) {
    for (size_t r = 0; r < embeddings_->rows(t); ++r) {
      const float* row = embeddings_->row(t, static_cast<uint32_t>(r));
      for (int k = 0; k < dim_; ++k) base_.push_back(load(row + k));
      base_.push_back(load(embeddings_->accumulator(t) + r));
    }
  }
}

void InterHostRound::pack_dense(float* out, bool done) const {
  const float scale = 1.0f / static_cast<float>(replicas_.size());
  for (size_t i = 0; i < n_; ++i) {
    float sum = 0;
    for (const float* r : replicas_) sum += load(r + i);
    out[i] = sum * scale;
  }
  out[n_] = done ? 1.0f : 0.0f;
}

int InterHostRound::unpack_dense(const float* sent, const float* sum, bool write_back) {
  const int done_hosts = static_cast<int>(std::lround(sum[n_]));
  const bool final_round = done_hosts >= hosts_;
  const float h = static_cast<float>(hosts_);
  const float inv_hosts = 1.0f / h;
  double spread_sq = 0;
  double mean_norm_sq = 0;
  for (size_t i = 0; i < n_; ++i) {
    const float s = sent[i];
    const float m = sum[i] * inv_hosts;
    spread_sq += (static_cast<double>(s) - m) * (static_cast<double>(s) - m);
    mean_norm_sq += static_cast<double>(m) * m;
    float target = m;
    if (!final_round && rule_.kind == SyncRuleKind::EASGD) {
      const float c = center_[i];
      target = s - rule_.alpha * (s - c);
      center_[i] = c + rule_.alpha * (sum[i] - h * c);
    } else if (!final_round && has_block_momentum(rule_.kind)) {
      const float g = m - start_[i];
      momentum_[i] = rule_.block_momentum * momentum_[i] + rule_.block_lr * g;
      center_[i] += momentum_[i];
      target = rule_.nesterov ? center_[i] + rule_.block_momentum * momentum_[i] : center_[i];
      start_[i] = target;
    }
    if (!write_back) continue;
    const float delta = target - s;
    for (float* r : replicas_) add(r + i, delta);
  }
  last_spread_sq_ = spread_sq;
  last_mean_norm_sq_ = mean_norm_sq;
  return done_hosts;
}

void InterHostRound::pack_rows(std::vector<uint64_t>& keys, std::vector<float>& deltas, bool whole_tables) const {
  keys.clear();
  deltas.clear();
  if (embeddings_ == nullptr) return;
  const bool marked_only = touched_ != nullptr && !whole_tables;
  std::vector<float> row_delta(row_floats_);
  for (int t = 0; t < kNumSparse; ++t) {
    const float* accumulator = embeddings_->accumulator(t);
    for (size_t r = 0; r < embeddings_->rows(t); ++r) {
      if (marked_only && !touched_->take(t, r)) continue;
      const uint64_t key = table_start_[static_cast<size_t>(t)] + r;
      const float* base = base_.data() + key * row_floats_;
      const float* row = embeddings_->row(t, static_cast<uint32_t>(r));
      bool changed = false;
      for (int k = 0; k < dim_; ++k) {
        row_delta[static_cast<size_t>(k)] = load(row + k) - base[k];
        changed = changed || row_delta[static_cast<size_t>(k)] != 0.0f;
      }
      row_delta[static_cast<size_t>(dim_)] = load(accumulator + r) - base[dim_];
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
    for (int k = 0; k < dim_; ++k) add(row + k, d[k]);
    add(embeddings_->accumulator(t) + r, d[dim_]);
  }
}

}  // namespace shadowsync::mpi
