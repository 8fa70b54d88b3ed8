// Tests of HostSyncConfig::validate (mpi/host_sync_config.hpp): each setting of the inter-host
// sync out of range is refused naming its field; the defaults pass.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "host_sync_config.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::mpi {
namespace {

std::string error_of(const std::function<void(HostSyncConfig&)>& change) {
  HostSyncConfig config;
  change(config);
  try {
    config.validate();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HostSyncConfig, DefaultsAreValid) { EXPECT_EQ(error_of([](HostSyncConfig&) {}), ""); }

TEST(HostSyncConfig, EachSettingOutOfRangeIsRefusedByItsField) {
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_sync_interval_ms = -1; }),
            "host_sync_interval_ms expects an integer in [0, 60000], got -1");
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_sync_timeout_s = 0; }),
            "host_sync_timeout_s expects a number in [0.1, 86400], got 0");
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_first_round_timeout_s = 1e9; }),
            "host_first_round_timeout_s expects a number in [0.1, 86400], got 1000000000");
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_alpha = 1.5f; }), "host_alpha expects a number in (0, 1], got 1.5");
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_block_momentum = 1.0f; }),
            "host_block_momentum expects a number in [0, 1), got 1");
  EXPECT_EQ(error_of([](HostSyncConfig& c) { c.host_block_lr = 0.0f; }), "host_block_lr expects a number > 0, got 0");
}

TEST(HostSyncConfig, TheErrorMarksTheFieldForEachFrontEnd) {
  HostSyncConfig config;
  config.host_sync_timeout_s = 0;
  try {
    config.validate();
    FAIL() << "not refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.message([](std::string_view f) { return "<" + std::string(f) + ">"; }),
              "<host_sync_timeout_s> expects a number in [0.1, 86400], got 0");
  }
}

}  // namespace
}  // namespace shadowsync::mpi
