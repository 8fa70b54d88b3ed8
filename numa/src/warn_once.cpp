// warn_once(): the single "threads and memory are not bound" style warning line per process.
#include <atomic>
#include <cstdio>

#include "shadowsync/numa/binder.hpp"

namespace shadowsync::numa {
namespace {
std::atomic<bool> warned{false};
}  // namespace

bool warn_once(const std::string& message) {
  if (warned.exchange(true, std::memory_order_acq_rel)) return false;
  std::fprintf(stderr, "shadowsync: warning: %s\n", message.c_str());
  std::fflush(stderr);
  return true;
}

void reset_warn_once_for_testing() { warned.store(false, std::memory_order_release); }

}  // namespace shadowsync::numa
