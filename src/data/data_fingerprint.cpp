// The fingerprint of a sequence of rows (see data_fingerprint.hpp).
#include "shadowsync/data/data_fingerprint.hpp"

#include <cstdio>

#include "core/checksum.hpp"

namespace shadowsync {

std::string data_fingerprint(const DataParts& rows) {
  // Column by column over the parts: the same digest as for their concatenation.
  Checksum64 sum;
  for (const DataView& p : rows.parts()) sum.update(p.labels, p.rows * sizeof(float));
  for (const DataView& p : rows.parts()) sum.update(p.numeric, p.rows * kNumNumeric * sizeof(float));
  for (const DataView& p : rows.parts()) sum.update(p.sparse, p.rows * kNumSparse * sizeof(uint32_t));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(sum.digest()));
  return text;
}

}  // namespace shadowsync
