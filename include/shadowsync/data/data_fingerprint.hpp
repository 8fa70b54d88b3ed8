// data_fingerprint: the identity of a sequence of rows (checksum64 over the label, numeric and
// categorical columns, then the multi-hot lists' lengths and ids), as 16 hex digits. Two sequences with the same rows in the same order give
// the same fingerprint, whatever files they come from; any other data, order or split almost
// surely does not. Checkpoints record the training rows' fingerprint (resume checks it), and the
// processes of a multi-host run compare theirs before training. Reads every byte once (several
// GB/s).
#pragma once

#include <string>

#include "shadowsync/data/data_parts.hpp"

namespace shadowsync {

std::string data_fingerprint(const DataParts& rows);

}  // namespace shadowsync
