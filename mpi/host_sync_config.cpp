// Validation of the inter-host sync settings (see host_sync_config.hpp).
#include "host_sync_config.hpp"

#include <cmath>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {
namespace {

void check_timeout(const char* name, double seconds) {
  if (!(std::isfinite(seconds) && seconds >= HostSyncConfig::kMinTimeoutS && seconds <= HostSyncConfig::kMaxTimeoutS)) {
    throw Error(fmt::format("{}: {} is not a number of seconds in [{}, {}]", field(name), seconds,
                            HostSyncConfig::kMinTimeoutS, HostSyncConfig::kMaxTimeoutS));
  }
}

}  // namespace

void HostSyncConfig::validate() const {
  if (host_sync_interval_ms < 0 || host_sync_interval_ms > kMaxIntervalMs) {
    throw Error(fmt::format("{}: {} is not a number of milliseconds in [0, {}]", field("host_sync_interval_ms"),
                            host_sync_interval_ms, kMaxIntervalMs));
  }
  check_timeout("host_sync_timeout_s", host_sync_timeout_s);
  check_timeout("host_first_round_timeout_s", host_first_round_timeout_s);
  if (host_alpha && !(std::isfinite(*host_alpha) && *host_alpha > 0 && *host_alpha <= 1)) {
    throw Error(fmt::format("{} must be in (0, 1], got {}", field("host_alpha"), *host_alpha));
  }
  if (host_block_momentum &&
      !(std::isfinite(*host_block_momentum) && *host_block_momentum >= 0 && *host_block_momentum < 1)) {
    throw Error(fmt::format("{} must be in [0, 1), got {}", field("host_block_momentum"), *host_block_momentum));
  }
  if (host_block_lr && !(std::isfinite(*host_block_lr) && *host_block_lr > 0)) {
    throw Error(fmt::format("{} must be positive, got {}", field("host_block_lr"), *host_block_lr));
  }
}

}  // namespace shadowsync::mpi
