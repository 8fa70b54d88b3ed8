// Names of the sync methods (see include/shadowsync/sync/sync_method.hpp).
#include "shadowsync/sync/sync_method.hpp"

#include <array>
#include <utility>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

const std::array<std::pair<std::string_view, SyncMethod>, 10>& named_methods() {
  static const std::array<std::pair<std::string_view, SyncMethod>, 10> methods{{
      {"s-ma", SyncMethod::ShadowMA},
      {"s-easgd", SyncMethod::ShadowEASGD},
      {"s-bmuf", SyncMethod::ShadowBMUF},
      {"s-pa", SyncMethod::ShadowPA},
      {"fr-ma", SyncMethod::ForegroundMA},
      {"fr-easgd", SyncMethod::ForegroundEASGD},
      {"fr-bmuf", SyncMethod::ForegroundBMUF},
      {"fr-pa", SyncMethod::ForegroundPA},
      {"none", SyncMethod::None},
      {"hogwild", SyncMethod::Hogwild},
  }};
  return methods;
}

}  // namespace

SyncMethod SyncMethod::parse(std::string_view text) {
  for (const auto& [name, method] : named_methods()) {
    if (name == text) return method;
  }
  throw Error(field("sync") + ": unknown mode '" + std::string(text) + "'; valid modes: " + choices());
}

std::string SyncMethod::name() const {
  for (const auto& [name, method] : named_methods()) {
    if (method == *this) return std::string(name);
  }
  return "?";
}

std::string SyncMethod::choices() {
  std::string out;
  for (const auto& [name, method] : named_methods()) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace shadowsync
