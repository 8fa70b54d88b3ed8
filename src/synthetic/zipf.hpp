// ZipfSampler: draws ranks 1..n with P(k) proportional to k^-s. Small n use a cumulative table
// (binary search); large n use rejection-inversion (Hoermann & Derflinger 1996, as in Apache
// Commons RNG), O(1) memory and expected O(1) time for any n.
#pragma once

#include <cstdint>
#include <vector>

#include "rng.hpp"

namespace shadowsync::synthetic {

class ZipfSampler {
 public:
  static constexpr uint64_t kDefaultTableLimit = 1u << 16;

  // n >= 1, s > 0. n <= table_limit uses the table method, otherwise rejection-inversion.
  ZipfSampler(uint64_t n, double s, uint64_t table_limit = kDefaultTableLimit);

  uint64_t sample(Rng& rng) const;
  uint64_t n() const { return n_; }
  double exponent() const { return s_; }

 private:
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;

  uint64_t n_;
  double s_;
  std::vector<double> cdf_;  // table method: cdf_[k-1] = P(rank <= k)
  double h_integral_x1_ = 0, h_integral_n_ = 0, s_threshold_ = 0;
};

}  // namespace shadowsync::synthetic
