// Stop-signal recording (see stop_signals.hpp). The handler does one lock-free atomic store,
// which is async-signal-safe.
#include "shadowsync/stop_signals.hpp"

#include <atomic>
#include <csignal>

namespace shadowsync::train {
namespace {

std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int signal_number) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, signal_number);
}

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int received_stop_signal() { return g_signal.load(std::memory_order_relaxed); }

void clear_stop_signal() { g_signal.store(0, std::memory_order_relaxed); }

}  // namespace shadowsync::train
