// Names and classification of the sync modes (see include/shadowsync/sync/sync_mode.hpp).
#include "shadowsync/sync/sync_mode.hpp"

#include <array>
#include <utility>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

constexpr std::array<std::pair<std::string_view, SyncMode>, 8> kModes{{
    {"s-ma", SyncMode::ShadowMA},
    {"s-easgd", SyncMode::ShadowEASGD},
    {"s-bmuf", SyncMode::ShadowBMUF},
    {"fr-ma", SyncMode::ForegroundMA},
    {"fr-easgd", SyncMode::ForegroundEASGD},
    {"fr-bmuf", SyncMode::ForegroundBMUF},
    {"none", SyncMode::None},
    {"hogwild", SyncMode::Hogwild},
}};

}  // namespace

SyncMode parse_sync_mode(std::string_view text) {
  for (const auto& [name, mode] : kModes) {
    if (name == text) return mode;
  }
  throw Error("--sync: unknown mode '" + std::string(text) + "'; valid modes: " +
              sync_mode_choices());
}

std::string sync_mode_name(SyncMode mode) {
  for (const auto& [name, value] : kModes) {
    if (value == mode) return std::string(name);
  }
  return "?";
}

std::string sync_mode_choices() {
  std::string out;
  for (const auto& [name, mode] : kModes) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool is_shadow(SyncMode mode) {
  return mode == SyncMode::ShadowMA || mode == SyncMode::ShadowEASGD ||
         mode == SyncMode::ShadowBMUF;
}

bool is_foreground(SyncMode mode) {
  return mode == SyncMode::ForegroundMA || mode == SyncMode::ForegroundEASGD ||
         mode == SyncMode::ForegroundBMUF;
}

}  // namespace shadowsync
