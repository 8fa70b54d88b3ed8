// The fingerprint of a sequence of rows (see data_fingerprint.hpp).
#include "shadowsync/data/data_fingerprint.hpp"

#include <cstdio>

#include "core/checksum.hpp"

namespace shadowsync {

std::string data_fingerprint(const DataParts& rows) {
  // Column by column over the parts: the same digest as for their concatenation.
  Checksum64 sum;
  for (const DataView& p : rows.parts()) sum.update(p.labels, p.rows * sizeof(float));
  for (const DataView& p : rows.parts()) sum.update(p.numeric, p.rows * size_t(p.numeric_width) * sizeof(float));
  for (const DataView& p : rows.parts()) sum.update(p.sparse, p.rows * size_t(p.sparse_width) * sizeof(uint32_t));
  // Multi-hot lists (none for Criteo's layout, whose digest is unchanged): every list's length,
  // then the ids, so that parts and their concatenation agree.
  for (const DataView& p : rows.parts()) {
    const size_t m = size_t(p.multi_hot);
    for (size_t k = 0; k < p.rows * m; ++k) {
      const uint64_t length = p.bag_offsets[k + 1] - p.bag_offsets[k];
      sum.update(&length, sizeof length);
    }
  }
  for (const DataView& p : rows.parts()) {
    const size_t m = size_t(p.multi_hot);
    if (m == 0 || p.rows == 0) continue;
    const uint64_t first = p.bag_offsets[0], last = p.bag_offsets[p.rows * m];
    if (last > first) sum.update(p.bag_ids + first, (last - first) * sizeof(uint32_t));
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(sum.digest()));
  return text;
}

}  // namespace shadowsync
