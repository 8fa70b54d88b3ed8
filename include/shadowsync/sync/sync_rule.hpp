// SyncRule: the three ShadowSync synchronization rules (model averaging, elastic averaging,
// block-wise model update filtering) over G dense replicas, applied with the delta write-back
// w_i += (target_i - s_i) so that what Hogwild workers write while a round runs is kept.
//
// Equations (s_i: the snapshot of replica w_i taken by the round, elementwise):
//  - MA:    m = mean_j s_j;  target_i = m.
//  - EASGD: center c (initialized from replica 0); for i = 0..G-1 in turn:
//           d_i = alpha (s_i - c);  target_i = s_i - d_i;  c += d_i.
//  - BMUF:  w_global (initialized from replica 0), delta (initialized 0):
//           m = mean_j s_j;  g = m - w_start;  delta = eta delta + zeta g;  w_global += delta;
//           target_i = w_global + eta delta (Nesterov) or w_global (classic).
//           eta = block_momentum, zeta = block_lr. w_start is where the previous round sent the
//           replicas: w_global + eta delta (both before this round's update) with Nesterov,
//           w_global with classic momentum (Chen & Huo 2016, ICASSP, "block momentum" with
//           Nesterov look-ahead). Measuring g from w_global instead, with Nesterov, feeds
//           eta delta back as a fake gradient every round: with no training between two
//           rounds delta grows by 2 eta per round, which diverges for eta > 1/2 (G > 2) and
//           does, in a shadow thread that runs rounds back to back.
//  - PA (progress-preserving averaging, the default rule; docs/sync.md): the BMUF equations
//           above with eta = 1 - 1/sqrt(G), zeta = 1, Nesterov. Why: plain MA moves the model
//           per example about 1/G as far as one worker (each replica sees 1/G of the rows and
//           the round replaces every replica's progress by the mean). The block momentum's
//           steady-state gain zeta / (1 - eta) restores it; with per-replica Adagrad the
//           replicas' own steps are already about sqrt(G) longer than one worker's (their
//           accumulators see 1/G of the gradients), so the gain that matches one worker is
//           sqrt(G), not BMUF's G. Summing the deltas outright (gain G, no momentum) diverges
//           at G = 8 and damping that sum by 1/sqrt(G) behaves like a G-times larger batch;
//           measured in docs/sync.md. State and memory as BMUF (w_global, delta: 2n floats).
//
// Optimizer state (params.optimizer_state_sync; the dense Adagrad accumulators, one per replica,
// in the replica's layout, given to the constructor as `states`; s_i: the round's snapshot of
// accumulator a_i), combined by every rule over the same elements as the weights, after them:
//  - none: the accumulators are left alone (each sees only its replica's gradients).
//  - sum:  base b (initialized from accumulator 0): target = b + sum_i (s_i - b), what one model
//          that saw every replica's gradients would hold, computed as s_0 + sum_{i>0} (s_i - b)
//          (exact for G = 1); a_i += target - s_i; b = target. State: b (n floats).
//  - mean: target = mean_i s_i; a_i += target - s_i. No state.
//  Written back with the same delta write-back as the weights. exchange_with_center (fr-easgd)
//  leaves the accumulators alone.
//
// Memory model (how the replicas, shared with Hogwild workers, are touched):
//  Replica memory is read and written only by the two accessors of src/sync/replica_access.hpp:
//  aligned-or-unaligned SIMD loads/stores of whole floats (x86: every naturally aligned 4-byte
//  access is single-copy atomic, so a vector load that races with a worker's store sees, per
//  element, either the old or the new float, never a torn one) and relaxed std::atomic_ref
//  accesses for the scalar tails (and on non-x86 targets). This is a documented benign race, the
//  same one the workers' own Hogwild updates have.
//  The write-back w_i += d is a read-modify-write: a worker update that lands in the window
//  between its load and its store reaching the cache (nanoseconds; up to a few hundred when the
//  line must come back from a worker's core) can be lost (exactly the lost-update semantics Hogwild workers
//  already have among themselves), but every update made between the snapshot and the write-back
//  is kept, because only the delta (target_i - s_i) is added to the current value.
//  The rule's own state (EASGD center, BMUF w_global and delta) is private to the thread that
//  runs a range: disjoint ranges may run concurrently, overlapping ranges must not.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "shadowsync/core/memory.hpp"

namespace shadowsync {

enum class SyncRuleKind { MA, EASGD, BMUF, PA };

// How a round combines the replicas' dense optimizer state (the equations above).
enum class OptimizerStateSync { None, Sum, Mean };
// The setting a run gets when it does not choose one (with an optimizer that has state).
inline constexpr OptimizerStateSync kDefaultOptimizerStateSync = OptimizerStateSync::None;
// "none", "sum", "mean".
const char* optimizer_state_sync_name(OptimizerStateSync mode);
// The mode named `text` ("none", "sum", "mean"); nullopt for any other text.
std::optional<OptimizerStateSync> optimizer_state_sync_named(const std::string& text);
// The same; Error naming field("sync_optimizer_state") for any other text.
OptimizerStateSync parse_optimizer_state_sync(const std::string& text);

// BMUF and PA: the rules with block momentum state (w_global, delta).
inline bool has_block_momentum(SyncRuleKind kind) { return kind == SyncRuleKind::BMUF || kind == SyncRuleKind::PA; }

struct SyncParams {
  SyncRuleKind kind = SyncRuleKind::MA;
  float alpha = 0;           // EASGD elastic rate, in (0, 1]
  float block_momentum = 0;  // BMUF / PA eta, in [0, 1)
  float block_lr = 1;        // BMUF / PA zeta, > 0
  bool nesterov = true;      // BMUF / PA: target = w_global + eta delta (true) or w_global (false)
  // Tuning (benchmarks/sync): floats per replica per chunk of a round (0: automatic, 256, the
  // fastest measured; otherwise a multiple of 16; scratch is (G + 2) x chunk floats per thread),
  // and non-temporal stores for the replica write-back (measured slower: off by default).
  size_t chunk_floats = 0;
  bool nontemporal = false;
  // The replicas' optimizer state in a round (needs the states given to SyncRule).
  OptimizerStateSync optimizer_state_sync = OptimizerStateSync::None;

  // The paper's defaults for `groups` replicas: EASGD alpha = 0.9 / G; BMUF eta = 1 - 1/G,
  // zeta = 1, Nesterov; and PA eta = 1 - 1/sqrt(G), zeta = 1, Nesterov. Throws Error when
  // groups < 1.
  static SyncParams defaults(SyncRuleKind kind, int groups);
};

// "ma", "easgd", "bmuf", "pa".
const char* sync_rule_name(SyncRuleKind kind);

class SyncRule {
 public:
  // replicas: G >= 1 distinct, non-overlapping pointers to n floats each (n >= 1), which must
  // outlive the rule (64-byte alignment is best for speed, not required). Owns the EASGD center /
  // BMUF w_global and delta, allocated from `memory` and initialized from replica 0 (read with
  // relaxed loads). Throws Error naming the parameter on bad parameters or pointers.
  // states: the replicas' optimizer state (replica i's at states[i], n floats each, distinct from
  // every replica and from each other), combined as params.optimizer_state_sync says; empty when
  // the optimizer keeps none (then optimizer_state_sync must be none: Error naming
  // field("sync_optimizer_state") else). With `sum`, the base b is allocated from `memory` and
  // initialized from states[0].
  SyncRule(const SyncParams& params, std::vector<float*> replicas, size_t n,
           MemoryResource& memory = default_memory(), std::vector<float*> states = {});
  ~SyncRule();
  SyncRule(const SyncRule&) = delete;
  SyncRule& operator=(const SyncRule&) = delete;

  // One round over elements [begin, end): chunk by chunk, snapshot a chunk of every replica into
  // thread-local scratch, compute the targets, write back the deltas. Disjoint ranges may run
  // concurrently on different threads; workers may write the replicas concurrently. Throws Error
  // unless begin <= end <= size().
  void run_range(size_t begin, size_t end);
  void run_round() { run_range(0, size_); }

  // The two phases of a round, exposed for tests. snapshot() copies [begin, end) of every
  // replica into `out`, G x (end - begin) floats, replica-major. apply() computes the targets from
  // `snapshot` (same layout), advances the rule's state over [begin, end) and adds
  // target_i - s_i to the current replica values. Throw Error on a bad range or null buffer.
  void snapshot(size_t begin, size_t end, float* out) const;
  void apply(size_t begin, size_t end, const float* snapshot);
  // The same two phases for the optimizer state (does nothing with optimizer_state_sync none):
  // snapshot_states() copies [begin, end) of every state into `out` (G x (end - begin) floats),
  // apply_states() computes the state target from it, advances b (sum) and adds target - s_i to
  // the current states.
  void snapshot_states(size_t begin, size_t end, float* out) const;
  void apply_states(size_t begin, size_t end, const float* snapshot);

  // Foreground EASGD (fr-easgd): replica `group` alone exchanges with the center over all n
  // elements: d = alpha (w_g - c); w_g -= d; c += d (the EASGD step for i = group). The caller
  // serializes exchanges. Throws Error unless the rule is EASGD and 0 <= group < G.
  void exchange_with_center(int group);

  // The rule's state as at construction, taken again from the replicas' current values: EASGD
  // center and BMUF / PA w_global from replica 0, block momentum 0, the optimizer state's base b
  // (sum) from states[0]. For a new start from one
  // model (the end of a shared-replica warm-up, when every replica holds the same values). Not
  // while a round runs.
  void restart();

  // EASGD center or BMUF / PA w_global (n floats); nullptr for MA.
  const float* center() const;
  // The rule's state to checkpoint / restore, in a fixed order: EASGD {center}, BMUF and PA
  // {w_global, delta}, MA {}, then the optimizer state's base b with optimizer_state_sync sum.
  // Each entry is (pointer, n). Not to be touched while a round runs.
  std::vector<std::pair<float*, size_t>> state_buffers();

  size_t size() const { return size_; }
  int groups() const { return static_cast<int>(replicas_.size()); }
  const SyncParams& params() const { return params_; }
  // The chunk length actually used (params().chunk_floats, or the automatic choice).
  size_t chunk_floats() const { return chunk_; }

 private:
  void apply_chunk(size_t begin, size_t length, const float* snapshot, size_t stride, float* work, size_t range_end,
                   bool summed);
  void apply_state_chunk(size_t begin, size_t length, const float* snapshot, size_t stride, float* target,
                         size_t range_end);

  SyncParams params_;
  std::vector<float*> replicas_;
  size_t size_ = 0;
  size_t chunk_ = 0;
  MemoryResource* memory_ = nullptr;
  float* anchor_ = nullptr;       // the model the replicas are pulled to: EASGD center, BMUF w_global
  float* block_delta_ = nullptr;  // BMUF: the filtered block movement (momentum)
  std::vector<float*> states_;    // the replicas' optimizer state (empty: none)
  float* state_base_ = nullptr;   // optimizer_state_sync sum: b
};

}  // namespace shadowsync
