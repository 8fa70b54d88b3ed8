// The chain of checkpoints a model started from, as text (see init_chain_text.hpp).
#include "init_chain_text.hpp"

#include <fmt/format.h>

namespace shadowsync::cli {

std::string init_chain_text(const std::vector<InitOrigin>& chain) {
  std::string out;
  for (const InitOrigin& o : chain) {
    out += fmt::format("{}{} ({} examples, checksum {})", out.empty() ? "" : " -> ", o.path, o.examples_trained,
                       o.checksum);
  }
  return out;
}

}  // namespace shadowsync::cli
