// Validation of the inter-host sync settings (see host_sync_config.hpp).
#include "host_sync_config.hpp"

#include "shadowsync/train/run_options.hpp"

namespace shadowsync::mpi {

// The ranges are the run option table's (shadowsync/train/run_options.hpp): one check, one message.
void HostSyncConfig::validate() const {
  check_in_range("host_sync_interval_ms", host_sync_interval_ms);
  check_in_range("host_sync_timeout_s", host_sync_timeout_s);
  check_in_range("host_first_round_timeout_s", host_first_round_timeout_s);
  if (host_alpha) check_in_range("host_alpha", *host_alpha);
  if (host_block_momentum) check_in_range("host_block_momentum", *host_block_momentum);
  if (host_block_lr) check_in_range("host_block_lr", *host_block_lr);
}

HostSyncConfig HostSyncConfig::from(const RunSettings& s) {
  HostSyncConfig h;
  h.host_sync_interval_ms = static_cast<int>(s.front_end_value<uint64_t>("host_sync_interval_ms", h.host_sync_interval_ms));
  h.host_sync_timeout_s = s.front_end_value<double>("host_sync_timeout_s", h.host_sync_timeout_s);
  h.host_first_round_timeout_s = s.front_end_value<double>("host_first_round_timeout_s", h.host_first_round_timeout_s);
  h.host_dense_only = s.front_end_value<bool>("host_dense_only", h.host_dense_only);
  if (s.has("host_alpha")) h.host_alpha = static_cast<float>(s.front_end_value<double>("host_alpha", 0));
  if (s.has("host_block_momentum")) h.host_block_momentum = static_cast<float>(s.front_end_value<double>("host_block_momentum", 0));
  if (s.has("host_block_lr")) h.host_block_lr = static_cast<float>(s.front_end_value<double>("host_block_lr", 0));
  return h;
}

}  // namespace shadowsync::mpi
