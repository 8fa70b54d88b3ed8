// Mean and divergence of replicas (see replica_math.hpp).
#include "train/replica_math.hpp"

#include <atomic>
#include <cmath>

namespace shadowsync::train {

void mean_of_replicas(const std::vector<const float*>& replicas, size_t n, float* out) {
  const float scale = 1.0f / static_cast<float>(replicas.size());
  for (size_t e = 0; e < n; ++e) {
    float sum = 0;
    for (const float* replica : replicas) sum += replica[e];
    out[e] = sum * scale;
  }
}

double replica_divergence(const std::vector<const float*>& replicas, size_t n, size_t stride) {
  if (replicas.size() < 2 || n == 0) return 0;
  const size_t g = replicas.size();
  std::vector<double> values(g);
  double spread = 0;
  double norm = 0;
  for (size_t e = 0; e < n; e += stride) {
    double mean = 0;
    for (size_t i = 0; i < g; ++i) {
      // Workers update the replicas concurrently (Hogwild): read each float atomically.
      values[i] = std::atomic_ref<float>(const_cast<float&>(replicas[i][e])).load(std::memory_order_relaxed);
      mean += values[i];
    }
    mean /= static_cast<double>(g);
    for (size_t i = 0; i < g; ++i) spread += (values[i] - mean) * (values[i] - mean);
    norm += mean * mean;
  }
  if (norm == 0) return 0;
  return std::sqrt(spread / static_cast<double>(g)) / std::sqrt(norm);
}

}  // namespace shadowsync::train
