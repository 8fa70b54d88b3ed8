// ZipfSampler (see zipf.hpp).
#include "zipf.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync::synthetic {
namespace {

// log1p(x) / x, continuous at 0.
double helper1(double x) {
  return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
// expm1(x) / x, continuous at 0.
double helper2(double x) {
  return std::abs(x) > 1e-8 ? std::expm1(x) / x
                            : 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

}  // namespace

ZipfSampler::ZipfSampler(uint64_t n, double s, uint64_t table_limit) : n_(n), s_(s) {
  if (n == 0 || !(s > 0)) {
    throw Error(fmt::format("ZipfSampler: need n >= 1 and s > 0, got n={} s={}", n, s));
  }
  if (n <= table_limit) {
    cdf_.resize(n);
    double total = 0;
    for (uint64_t k = 1; k <= n; ++k) {
      total += std::pow(static_cast<double>(k), -s);
      cdf_[k - 1] = total;
    }
    for (double& c : cdf_) c /= total;
    cdf_.back() = 1.0;
  } else {
    h_integral_x1_ = h_integral(1.5) - 1.0;
    h_integral_n_ = h_integral(static_cast<double>(n) + 0.5);
    s_threshold_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
  }
}

double ZipfSampler::h(double x) const { return std::exp(-s_ * std::log(x)); }

double ZipfSampler::h_integral(double x) const {
  const double log_x = std::log(x);
  return helper2((1.0 - s_) * log_x) * log_x;
}

double ZipfSampler::h_integral_inverse(double x) const {
  double t = x * (1.0 - s_);
  if (t < -1.0) t = -1.0;  // rounding guard
  return std::exp(helper1(t) * x);
}

uint64_t ZipfSampler::sample(Rng& rng) const {
  if (!cdf_.empty()) {
    const double u = rng.uniform();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<uint64_t>(static_cast<uint64_t>(it - cdf_.begin()) + 1, n_);
  }
  const double n = static_cast<double>(n_);
  while (true) {
    const double u = h_integral_n_ + rng.uniform() * (h_integral_x1_ - h_integral_n_);
    const double x = h_integral_inverse(u);
    double k = std::floor(x + 0.5);
    if (k < 1) k = 1;
    if (k > n) k = n;
    if (k - x <= s_threshold_ || u >= h_integral(k + 0.5) - h(k)) return static_cast<uint64_t>(k);
  }
}

}  // namespace shadowsync::synthetic
