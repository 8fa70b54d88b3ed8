// GroupShare: one group's disjoint share of the training rows, cut into batches, and the replica
// and optimizer state its workers update.
#pragma once

#include <cstdint>
#include <vector>

#include "shadowsync/data/data_parts.hpp"

namespace shadowsync::train {

struct GroupShare {
  DataParts rows;  // of one file or several (a batch may cross from one into the next)
  uint64_t batches_per_epoch = 0;
  uint64_t total_batches = 0;  // epochs x batches_per_epoch
  float* replica = nullptr;
  float* optimizer_state = nullptr;
};

// Group g of `groups` gets rows [g N / G, (g + 1) N / G) of `train`.
inline std::vector<GroupShare> split_into_shares(const DataParts& train, int groups, int batch, int epochs) {
  std::vector<GroupShare> shares;
  const uint64_t b = static_cast<uint64_t>(batch);
  for (int g = 0; g < groups; ++g) {
    const size_t begin = train.rows() * static_cast<size_t>(g) / static_cast<size_t>(groups);
    const size_t end = train.rows() * static_cast<size_t>(g + 1) / static_cast<size_t>(groups);
    GroupShare share;
    share.rows = train.slice(begin, end);
    share.batches_per_epoch = (share.rows.rows() + b - 1) / b;
    share.total_batches = share.batches_per_epoch * static_cast<uint64_t>(epochs);
    shares.push_back(share);
  }
  return shares;
}

}  // namespace shadowsync::train
