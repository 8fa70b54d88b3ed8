// The arithmetic of the sync rules (sync_rule.hpp has the equations), once, over plain spans of
// private floats, parameterised by what a round combines: SyncRule runs it over the G replicas
// of a host (their snapshots), the inter-host round (mpi/) over the H hosts' models (each host's
// replica mean and the sum of every host's). No replica memory is touched here: callers read and
// write replicas through src/sync/replica_access.hpp and pass the snapshots, sums and state.
//
//  - mean_in_place:  m = sum * (1 / count), the mean of MA, BMUF and PA.
//  - mean_rule:      MA, BMUF, PA: m (in `target`) -> the target; BMUF / PA advance w_global and
//                    the block momentum. The target is the same for every participant.
//  - easgd_pull:     EASGD, one participant s against the center c: d = alpha (s - c),
//                    delta = -d (= target - s); with move_center also c += d (sequential EASGD:
//                    the replicas of a host in turn).
//  - easgd_center_from_sum: parallel EASGD (every participant pulled against the same c, the
//                    hosts of a run): c += alpha (sum - count c), the sum of the participants' d.
#pragma once

#include <cstddef>

#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync::rule_step {

inline void mean_in_place(float* __restrict sum, size_t length, size_t count) {
  const float inv = 1.0f / static_cast<float>(count);
  for (size_t k = 0; k < length; ++k) sum[k] *= inv;
}

// `target`: m on entry, the target on exit. w_global and momentum: BMUF / PA state (length floats
// each; unused, may be null, for MA). EASGD is not a mean rule (easgd_pull).
inline void mean_rule(const SyncParams& p, float* __restrict target, float* __restrict w_global,
                      float* __restrict momentum, size_t length) {
  if (!has_block_momentum(p.kind)) return;  // MA: the target is m
  const float eta = p.block_momentum;
  const float zeta = p.block_lr;
  const float look_ahead = p.nesterov ? eta : 0.0f;
  for (size_t k = 0; k < length; ++k) {
    // g is measured from where the replicas were sent last round (w_global + eta delta with
    // Nesterov), so a round with no training in between leaves g = 0 and delta decays.
    const float step = eta * momentum[k] + zeta * (target[k] - (w_global[k] + look_ahead * momentum[k]));
    const float w = w_global[k] + step;
    momentum[k] = step;
    w_global[k] = w;
    target[k] = w + look_ahead * step;
  }
}

// delta[k] = -alpha (s[k] - c[k]); with move_center, c[k] += alpha (s[k] - c[k]).
inline void easgd_pull(float alpha, const float* __restrict s, float* __restrict center, float* __restrict delta,
                       size_t length, bool move_center) {
  if (move_center) {
    for (size_t k = 0; k < length; ++k) {
      const float d = alpha * (s[k] - center[k]);
      center[k] += d;
      delta[k] = -d;  // target_i - s_i = -d_i
    }
    return;
  }
  for (size_t k = 0; k < length; ++k) delta[k] = -(alpha * (s[k] - center[k]));
}

// c[k] += alpha (sum[k] - count c[k]), sum: the sum of the count participants' values.
inline void easgd_center_from_sum(float alpha, const float* __restrict sum, size_t count, float* __restrict center,
                                  size_t length) {
  const float h = static_cast<float>(count);
  for (size_t k = 0; k < length; ++k) {
    const float c = center[k];
    center[k] = c + alpha * (sum[k] - h * c);
  }
}

}  // namespace shadowsync::rule_step
