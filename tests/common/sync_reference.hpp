// Scalar double-precision reference of the three sync rules, written straight from the equations
// in include/shadowsync/sync/sync_rule.hpp (whole replicas, no chunks, no SIMD), and helpers shared by
// the sync tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync::test {

class ReferenceRule {
 public:
  // State initialized from replica 0: EASGD c, BMUF w_global; BMUF delta = 0.
  ReferenceRule(const SyncParams& params, const std::vector<double>& replica0)
      : p_(params), c_(replica0), w_global_(replica0), delta_(replica0.size(), 0.0) {}

  // Given the snapshots s[i][e], returns target_i - s_i for every replica and advances the state.
  // EASGD pulls the replicas against the center in turn (within a host), or with all_at_once
  // every one against the same center, which then moves by the sum of the pulls (across hosts:
  // parallel elastic averaging, mpi/inter_host_round.hpp).
  std::vector<std::vector<double>> deltas(const std::vector<std::vector<double>>& s, bool all_at_once = false) {
    const size_t g = s.size();
    const size_t n = s[0].size();
    std::vector<std::vector<double>> out(g, std::vector<double>(n));
    for (size_t e = 0; e < n; ++e) {
      if (p_.kind == SyncRuleKind::EASGD && all_at_once) {
        double moved = 0;
        for (size_t i = 0; i < g; ++i) {
          const double d = p_.alpha * (s[i][e] - c_[e]);
          moved += d;
          out[i][e] = -d;
        }
        c_[e] += moved;
        continue;
      }
      if (p_.kind == SyncRuleKind::EASGD) {
        for (size_t i = 0; i < g; ++i) {
          const double d = p_.alpha * (s[i][e] - c_[e]);
          const double target = s[i][e] - d;
          c_[e] += d;
          out[i][e] = target - s[i][e];
        }
        continue;
      }
      double m = 0;
      for (size_t j = 0; j < g; ++j) m += s[j][e];
      m /= static_cast<double>(g);
      double target = m;
      if (has_block_momentum(p_.kind)) {  // BMUF and PA
        const double eta = p_.block_momentum;
        const double start = p_.nesterov ? w_global_[e] + eta * delta_[e] : w_global_[e];
        const double grad = m - start;
        delta_[e] = eta * delta_[e] + p_.block_lr * grad;
        w_global_[e] += delta_[e];
        target = p_.nesterov ? w_global_[e] + eta * delta_[e] : w_global_[e];
      }
      for (size_t i = 0; i < g; ++i) out[i][e] = target - s[i][e];
    }
    return out;
  }

  // One round with no concurrent writers: w_i += target_i - w_i.
  void round(std::vector<std::vector<double>>& w) {
    const std::vector<std::vector<double>> d = deltas(w);
    for (size_t i = 0; i < w.size(); ++i) {
      for (size_t e = 0; e < w[i].size(); ++e) w[i][e] += d[i][e];
    }
  }

  // Foreground EASGD: replica i alone exchanges with the center.
  void exchange(std::vector<double>& w) {
    for (size_t e = 0; e < w.size(); ++e) {
      const double d = p_.alpha * (w[e] - c_[e]);
      w[e] -= d;
      c_[e] += d;
    }
  }

  const std::vector<double>& center() const { return c_; }
  const std::vector<double>& w_global() const { return w_global_; }
  const std::vector<double>& delta() const { return delta_; }

 private:
  SyncParams p_;
  std::vector<double> c_, w_global_, delta_;
};

// Deterministic pseudo-random numbers in [-1, 1) (splitmix64).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0; }

 private:
  uint64_t state_;
};

}  // namespace shadowsync::test
