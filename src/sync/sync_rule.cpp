// SyncRule: MA / EASGD / BMUF rounds with the delta write-back, streamed chunk by chunk through
// thread-local scratch; the rules' arithmetic is rule_step.hpp's (shared with the inter-host round). Replica memory is touched only through replica_access.hpp (the one
// documented benign race, see there and sync_rule.hpp); everything else here works on private
// scratch or on the rule's own state, which only the thread running a range touches.
#include "shadowsync/sync/sync_rule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "shadowsync/core/error.hpp"
#include "shadowsync/sync/rule_step.hpp"
#include "sync/replica_access.hpp"

namespace shadowsync {
namespace {

using sync_detail::add_difference_to_replica;
using sync_detail::add_to_replica;
using sync_detail::read_replica;
using sync_detail::read_replica_and_sum;

constexpr size_t kChunkMultiple = 16;  // one 64-byte line of floats
// Automatic chunk: 256 floats (1 KiB) per replica. benchmarks/sync swept 64..16384 for G = 2, 4, 8
// from 2 MiB to 1 GiB of replicas: 256 (with the next-chunk prefetch of add_to_replica) was the
// fastest or within a few percent everywhere; 1024 was 25-35 % slower, 16384 about 2x slower.
constexpr size_t kAutoChunk = 256;

// Per-thread scratch, grown on demand and freed at thread exit.
class Scratch {
 public:
  ~Scratch() { std::free(data_); }
  float* get(size_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (data_ == nullptr) {
        throw Error("SyncRule: cannot allocate " + std::to_string(bytes) + " bytes of scratch");
      }
      capacity_ = floats;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

thread_local Scratch scratch_of_thread;

std::string number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

void check_params(const SyncParams& p) {
  switch (p.kind) {
    case SyncRuleKind::MA:
      break;
    case SyncRuleKind::EASGD:
      if (!(std::isfinite(p.alpha) && p.alpha > 0.0f && p.alpha <= 1.0f)) {
        throw Error("sync parameters: alpha (EASGD elastic rate) must be in (0, 1], got " + number(p.alpha));
      }
      break;
    case SyncRuleKind::BMUF:
    case SyncRuleKind::PA:
      if (!(std::isfinite(p.block_momentum) && p.block_momentum >= 0.0f && p.block_momentum < 1.0f)) {
        throw Error("sync parameters: block_momentum (BMUF eta) must be in [0, 1), got " +
                    number(p.block_momentum));
      }
      if (!(std::isfinite(p.block_lr) && p.block_lr > 0.0f)) {
        throw Error("sync parameters: block_lr (BMUF zeta) must be finite and > 0, got " + number(p.block_lr));
      }
      break;
    default:
      throw Error("sync parameters: unknown rule kind " + std::to_string(static_cast<int>(p.kind)));
  }
  if (p.chunk_floats % kChunkMultiple != 0) {
    throw Error("sync parameters: chunk_floats must be 0 (automatic) or a multiple of 16, got " +
                std::to_string(p.chunk_floats));
  }
}

void check_range(size_t begin, size_t end, size_t n, const char* what) {
  if (begin > end || end > n) {
    throw Error(std::string("SyncRule::") + what + ": range [" + std::to_string(begin) + ", " +
                std::to_string(end) + ") is not inside [0, " + std::to_string(n) + ")");
  }
}

}  // namespace

SyncParams SyncParams::defaults(SyncRuleKind kind, int groups) {
  if (groups < 1) {
    throw Error("sync parameters: the number of groups must be >= 1, got " + std::to_string(groups));
  }
  SyncParams p;
  p.kind = kind;
  const float g = static_cast<float>(groups);
  if (kind == SyncRuleKind::EASGD) p.alpha = 0.9f / g;
  if (kind == SyncRuleKind::BMUF) {
    p.block_momentum = 1.0f - 1.0f / g;
    p.block_lr = 1.0f;
    p.nesterov = true;
  }
  if (kind == SyncRuleKind::PA) {
    p.block_momentum = 1.0f - 1.0f / std::sqrt(g);
    p.block_lr = 1.0f;
    p.nesterov = true;
  }
  return p;
}

const char* optimizer_state_sync_name(OptimizerStateSync mode) {
  switch (mode) {
    case OptimizerStateSync::None:
      return "none";
    case OptimizerStateSync::Sum:
      return "sum";
    case OptimizerStateSync::Mean:
      return "mean";
  }
  return "unknown";
}

std::optional<OptimizerStateSync> optimizer_state_sync_named(const std::string& text) {
  for (OptimizerStateSync mode : {OptimizerStateSync::None, OptimizerStateSync::Sum, OptimizerStateSync::Mean}) {
    if (text == optimizer_state_sync_name(mode)) return mode;
  }
  return std::nullopt;
}

OptimizerStateSync parse_optimizer_state_sync(const std::string& text) {
  if (const std::optional<OptimizerStateSync> mode = optimizer_state_sync_named(text)) return *mode;
  throw Error(field("sync_optimizer_state") + " must be none, sum or mean, got '" + text + "'");
}

const char* sync_rule_name(SyncRuleKind kind) {
  switch (kind) {
    case SyncRuleKind::MA:
      return "ma";
    case SyncRuleKind::EASGD:
      return "easgd";
    case SyncRuleKind::BMUF:
      return "bmuf";
    case SyncRuleKind::PA:
      return "pa";
  }
  return "unknown";
}

SyncRule::SyncRule(const SyncParams& params, std::vector<float*> replicas, size_t n, MemoryResource& memory,
                   std::vector<float*> states)
    : params_(params), replicas_(std::move(replicas)), size_(n), memory_(&memory), states_(std::move(states)) {
  check_params(params_);
  if (replicas_.empty()) throw Error("SyncRule: needs at least one replica, got none");
  if (n == 0) throw Error("SyncRule: replicas must hold at least one float, got n = 0");
  if (params_.optimizer_state_sync != OptimizerStateSync::None && states_.empty()) {
    throw Error(field("sync_optimizer_state") + " " + optimizer_state_sync_name(params_.optimizer_state_sync) +
                ": the dense optimizer keeps no state to synchronize (sgd); use none");
  }
  if (!states_.empty() && states_.size() != replicas_.size()) {
    throw Error("SyncRule: " + std::to_string(states_.size()) + " optimizer states for " +
                std::to_string(replicas_.size()) + " replicas (one each needed)");
  }
  // Every replica and state is its own n floats: (address, name) sorted, neighbours apart.
  std::vector<std::pair<uintptr_t, std::string>> spans;
  auto add_span = [&](float* p, const std::string& name) {
    if (p == nullptr) throw Error("SyncRule: " + name + " is a null pointer");
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
      throw Error("SyncRule: " + name + " is not aligned to a float");
    }
    spans.emplace_back(reinterpret_cast<uintptr_t>(p), name);
  };
  for (size_t i = 0; i < replicas_.size(); ++i) add_span(replicas_[i], "replica " + std::to_string(i));
  for (size_t i = 0; i < states_.size(); ++i) add_span(states_[i], "optimizer state " + std::to_string(i));
  std::sort(spans.begin(), spans.end());
  for (size_t k = 1; k < spans.size(); ++k) {
    if (spans[k - 1].first + n * sizeof(float) > spans[k].first) {
      const bool both_replicas = spans[k - 1].second.starts_with("replica ") && spans[k].second.starts_with("replica ");
      throw Error("SyncRule: " + (both_replicas ? "replicas " + spans[k - 1].second.substr(8) + " and " +
                                                      spans[k].second.substr(8)
                                                : spans[k - 1].second + " and " + spans[k].second) +
                  " overlap (each must be its own " + std::to_string(n) + " floats)");
    }
  }
  chunk_ = params_.chunk_floats;
  if (chunk_ == 0) chunk_ = kAutoChunk;
  if (params_.kind != SyncRuleKind::MA) {
    anchor_ = static_cast<float*>(memory_->allocate(n * sizeof(float)));
    read_replica(anchor_, replicas_[0], n);  // center / w_global start at replica 0
  }
  if (has_block_momentum(params_.kind)) {
    try {
      block_delta_ = static_cast<float*>(memory_->allocate(n * sizeof(float)));  // zero-filled: delta = 0
    } catch (...) {
      memory_->deallocate(anchor_, n * sizeof(float));
      throw;
    }
  }
  if (params_.optimizer_state_sync == OptimizerStateSync::Sum) {
    try {
      state_base_ = static_cast<float*>(memory_->allocate(n * sizeof(float)));
    } catch (...) {
      if (anchor_ != nullptr) memory_->deallocate(anchor_, n * sizeof(float));
      if (block_delta_ != nullptr) memory_->deallocate(block_delta_, n * sizeof(float));
      throw;
    }
    read_replica(state_base_, states_[0], n);  // b starts at accumulator 0 (every one's initial state)
  }
}

SyncRule::~SyncRule() {
  if (anchor_ != nullptr) memory_->deallocate(anchor_, size_ * sizeof(float));
  if (block_delta_ != nullptr) memory_->deallocate(block_delta_, size_ * sizeof(float));
  if (state_base_ != nullptr) memory_->deallocate(state_base_, size_ * sizeof(float));
}

void SyncRule::restart() {
  if (anchor_ != nullptr) read_replica(anchor_, replicas_[0], size_);
  if (block_delta_ != nullptr) std::fill(block_delta_, block_delta_ + size_, 0.0f);
  if (state_base_ != nullptr) read_replica(state_base_, states_[0], size_);
}

const float* SyncRule::center() const { return anchor_; }

std::vector<std::pair<float*, size_t>> SyncRule::state_buffers() {
  std::vector<std::pair<float*, size_t>> out;
  if (anchor_ != nullptr) out.emplace_back(anchor_, size_);
  if (block_delta_ != nullptr) out.emplace_back(block_delta_, size_);
  if (state_base_ != nullptr) out.emplace_back(state_base_, size_);
  return out;
}

void SyncRule::snapshot(size_t begin, size_t end, float* out) const {
  check_range(begin, end, size_, "snapshot");
  if (out == nullptr && end > begin) throw Error("SyncRule::snapshot: output buffer is a null pointer");
  const size_t length = end - begin;
  for (size_t i = 0; i < replicas_.size(); ++i) read_replica(out + i * length, replicas_[i] + begin, length);
}

void SyncRule::apply(size_t begin, size_t end, const float* snapshot) {
  check_range(begin, end, size_, "apply");
  if (snapshot == nullptr && end > begin) throw Error("SyncRule::apply: snapshot is a null pointer");
  const size_t stride = end - begin;
  float* work = scratch_of_thread.get(2 * chunk_);
  for (size_t offset = 0; offset < stride; offset += chunk_) {
    apply_chunk(begin + offset, std::min(chunk_, stride - offset), snapshot + offset, stride, work, end, false);
  }
  if (params_.nontemporal) sync_detail::store_fence();
}

void SyncRule::snapshot_states(size_t begin, size_t end, float* out) const {
  check_range(begin, end, size_, "snapshot_states");
  if (params_.optimizer_state_sync == OptimizerStateSync::None) return;
  if (out == nullptr && end > begin) throw Error("SyncRule::snapshot_states: output buffer is a null pointer");
  const size_t length = end - begin;
  for (size_t i = 0; i < states_.size(); ++i) read_replica(out + i * length, states_[i] + begin, length);
}

void SyncRule::apply_states(size_t begin, size_t end, const float* snapshot) {
  check_range(begin, end, size_, "apply_states");
  if (params_.optimizer_state_sync == OptimizerStateSync::None) return;
  if (snapshot == nullptr && end > begin) throw Error("SyncRule::apply_states: snapshot is a null pointer");
  const size_t stride = end - begin;
  float* target = scratch_of_thread.get(chunk_);
  for (size_t offset = 0; offset < stride; offset += chunk_) {
    apply_state_chunk(begin + offset, std::min(chunk_, stride - offset), snapshot + offset, stride, target, end);
  }
  if (params_.nontemporal) sync_detail::store_fence();
}

void SyncRule::run_range(size_t begin, size_t end) {
  check_range(begin, end, size_, "run_range");
  const size_t g = replicas_.size();
  float* snap = scratch_of_thread.get((g + 2) * chunk_);
  float* work = snap + g * chunk_;
  size_t b = begin;
  while (b < end) {
    // Chunk boundaries at multiples of chunk_ (aligned vectors when the replicas are aligned).
    const size_t e = std::min(end, (b / chunk_ + 1) * chunk_);
    const size_t length = e - b;
    if (params_.kind == SyncRuleKind::EASGD) {
      for (size_t i = 0; i < g; ++i) read_replica(snap + i * chunk_, replicas_[i] + b, length);
    } else {  // snapshot and sum in one pass; the sum lands in apply_chunk's target buffer
      for (size_t i = 0; i < g; ++i) read_replica_and_sum(snap + i * chunk_, work, replicas_[i] + b, length, i == 0);
    }
    apply_chunk(b, length, snap, chunk_, work, end, true);
    if (params_.optimizer_state_sync != OptimizerStateSync::None) {  // the same elements of the states
      for (size_t i = 0; i < g; ++i) read_replica(snap + i * chunk_, states_[i] + b, length);
      apply_state_chunk(b, length, snap, chunk_, work, end);
    }
    b = e;
  }
  if (params_.nontemporal) sync_detail::store_fence();
}

// Targets for elements [begin, begin + length) from `snapshot` (replica i at snapshot + i *
// stride), the rule's state advanced, and replica_i += target_i - s_i. `work`: 2 x chunk_ floats.
// While writing back replica i it prefetches replica i's next chunk (up to `range_end`). With
// `summed`, work[0, length) already holds sum_j s_j (MA, BMUF).
void SyncRule::apply_chunk(size_t begin, size_t length, const float* snapshot, size_t stride, float* work,
                           size_t range_end, bool summed) {
  const size_t g = replicas_.size();
  const size_t next = begin + length;
  const size_t next_length = std::min(chunk_, range_end - next);
  float* __restrict target = work;
  float* __restrict delta = work + chunk_;
  const bool nt = params_.nontemporal;

  if (params_.kind == SyncRuleKind::EASGD) {
    for (size_t i = 0; i < g; ++i) {
      rule_step::easgd_pull(params_.alpha, snapshot + i * stride, anchor_ + begin, delta, length, true);
      add_to_replica(replicas_[i] + begin, delta, length, nt, replicas_[i] + next, next_length);
    }
    return;
  }

  // MA, BMUF and PA: m = mean_j s_j.
  if (!summed) {
    const float* __restrict s0 = snapshot;
    for (size_t k = 0; k < length; ++k) target[k] = s0[k];
    for (size_t j = 1; j < g; ++j) {
      const float* __restrict s = snapshot + j * stride;
      for (size_t k = 0; k < length; ++k) target[k] += s[k];
    }
  }
  rule_step::mean_in_place(target, length, g);
  if (has_block_momentum(params_.kind)) rule_step::mean_rule(params_, target, anchor_ + begin, block_delta_ + begin, length);
  for (size_t i = 0; i < g; ++i) {
    add_difference_to_replica(replicas_[i] + begin, target, snapshot + i * stride, length, nt, replicas_[i] + next,
                              next_length);
  }
}

// The optimizer state's targets for [begin, begin + length) from `snapshot` (state i at snapshot
// + i * stride), b advanced (sum), and state_i += target - s_i. `target`: chunk_ floats.
void SyncRule::apply_state_chunk(size_t begin, size_t length, const float* snapshot, size_t stride, float* target,
                                 size_t range_end) {
  const size_t g = states_.size();
  const size_t next = begin + length;
  const size_t next_length = std::min(chunk_, range_end - next);
  float* __restrict t = target;
  const float* __restrict s0 = snapshot;
  for (size_t k = 0; k < length; ++k) t[k] = s0[k];
  if (params_.optimizer_state_sync == OptimizerStateSync::Sum) {
    // b + sum_i (s_i - b) = s_0 + sum_{i>0} (s_i - b): each replica's increments since b, added once.
    float* __restrict base = state_base_ + begin;
    for (size_t j = 1; j < g; ++j) {
      const float* __restrict s = snapshot + j * stride;
      for (size_t k = 0; k < length; ++k) t[k] += s[k] - base[k];
    }
    for (size_t k = 0; k < length; ++k) base[k] = t[k];
  } else {  // Mean
    for (size_t j = 1; j < g; ++j) {
      const float* __restrict s = snapshot + j * stride;
      for (size_t k = 0; k < length; ++k) t[k] += s[k];
    }
    rule_step::mean_in_place(t, length, g);
  }
  for (size_t i = 0; i < g; ++i) {
    add_difference_to_replica(states_[i] + begin, t, snapshot + i * stride, length, params_.nontemporal,
                              states_[i] + next, next_length);
  }
}

void SyncRule::exchange_with_center(int group) {
  if (params_.kind != SyncRuleKind::EASGD) {
    throw Error(std::string("SyncRule::exchange_with_center: needs the EASGD rule, this one is ") +
                sync_rule_name(params_.kind));
  }
  if (group < 0 || group >= groups()) {
    throw Error("SyncRule::exchange_with_center: group " + std::to_string(group) + " is not in [0, " +
                std::to_string(groups()) + ")");
  }
  // (The optimizer state is not exchanged: sync_rule.hpp.)
  float* snap = scratch_of_thread.get(2 * chunk_);
  float* __restrict s = snap;
  float* __restrict delta = snap + chunk_;
  float* replica = replicas_[static_cast<size_t>(group)];
  const float alpha = params_.alpha;
  for (size_t b = 0; b < size_; b += chunk_) {
    const size_t length = std::min(chunk_, size_ - b);
    read_replica(s, replica + b, length);
    rule_step::easgd_pull(alpha, s, anchor_ + b, delta, length, true);
    const size_t next_length = std::min(chunk_, size_ - (b + length));
    add_to_replica(replica + b, delta, length, params_.nontemporal, replica + b + length, next_length);
  }
  if (params_.nontemporal) sync_detail::store_fence();
}

}  // namespace shadowsync
