// The chain of checkpoints a model started from (train --init-from), as one line for `train`'s
// summary and `eval`.
#pragma once

#include <string>
#include <vector>

#include "shadowsync/train/init_chain.hpp"

namespace shadowsync::cli {

// "/d/day1.ckpt (200000 examples, checksum 0123456789abcdef) -> /d/day2.ckpt (...)", oldest first.
std::string init_chain_text(const std::vector<InitOrigin>& chain);

}  // namespace shadowsync::cli
