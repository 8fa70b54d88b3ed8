// The local halves of an inter-host round (see inter_host_round.hpp).
#include "inter_host_round.hpp"

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

// Calls f(pointer, count) for every table, then every accumulator.
template <typename F>
void for_each_block(EmbeddingStore* e, F&& f) {
  if (e == nullptr) return;
  for (int t = 0; t < kNumSparse; ++t) f(e->table_data(t), e->table_floats(t));
  for (int t = 0; t < kNumSparse; ++t) f(e->accumulator(t), e->rows(t));
}

}  // namespace

InterHostRound::InterHostRound(std::vector<float*> replicas, size_t n, EmbeddingStore* embeddings, int hosts)
    : replicas_(std::move(replicas)), n_(n), embeddings_(embeddings), hosts_(hosts) {
  if (replicas_.empty() || n_ == 0) throw Error("inter-host sync: no dense replicas to synchronize");
  if (hosts_ < 1) throw Error("inter-host sync: hosts must be at least 1");
  if (embeddings_ != nullptr) {
    for (int t = 0; t < kNumSparse; ++t) {
      table_floats_ += embeddings_->table_floats(t);
      accumulator_floats_ += embeddings_->rows(t);
    }
  }
  base_.reserve(table_floats_ + accumulator_floats_);
  for_each_block(embeddings_, [&](const float* p, size_t count) {
    for (size_t i = 0; i < count; ++i) base_.push_back(load(p + i));
  });
}

void InterHostRound::pack(float* out, bool done) const {
  const float scale = 1.0f / static_cast<float>(replicas_.size());
  for (size_t i = 0; i < n_; ++i) {
    float sum = 0;
    for (const float* r : replicas_) sum += load(r + i);
    out[i] = sum * scale;
  }
  float* d = out + n_;
  size_t k = 0;
  for_each_block(embeddings_, [&](const float* p, size_t count) {
    for (size_t i = 0; i < count; ++i, ++k) d[k] = load(p + i) - base_[k];
  });
  out[buffer_floats() - 1] = done ? 1.0f : 0.0f;
}

int InterHostRound::unpack(const float* sent, const float* sum) {
  const float inv_hosts = 1.0f / static_cast<float>(hosts_);
  for (size_t i = 0; i < n_; ++i) {
    const float delta = sum[i] * inv_hosts - sent[i];
    for (float* r : replicas_) add(r + i, delta);
  }
  const float* d = sent + n_;
  const float* total = sum + n_;
  size_t k = 0;
  for_each_block(embeddings_, [&](float* p, size_t count) {
    for (size_t i = 0; i < count; ++i, ++k) {
      const float others = total[k] - d[k];
      if (others != 0.0f) add(p + i, others);
      base_[k] += total[k];
    }
  });
  return static_cast<int>(std::lround(sum[buffer_floats() - 1]));
}

}  // namespace shadowsync::mpi
