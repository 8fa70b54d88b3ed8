// Whole-replica arithmetic the coordinator needs: the mean of the replicas (the final model) and
// their divergence (relative L2 distance to the mean). Replicas may be written by workers while
// divergence() samples them: it reads with relaxed atomic loads.
#pragma once

#include <cstddef>
#include <vector>

namespace shadowsync::train {

// out[e] = mean_i replicas[i][e]. Replicas must not change while this runs.
void mean_of_replicas(const std::vector<const float*>& replicas, size_t n, float* out);

// sqrt(mean_i ||w_i - m||^2) / ||m|| over every `stride`-th element (1 = all). 0 for one replica.
double replica_divergence(const std::vector<const float*>& replicas, size_t n, size_t stride);

}  // namespace shadowsync::train
