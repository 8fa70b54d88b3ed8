// Stop-signal recording (see stop_signals.hpp): a watcher thread takes SIGINT / SIGTERM with
// sigwait() while every other thread blocks them; a recording handler (one lock-free atomic
// compare-exchange and increment, async-signal-safe) covers threads created before.
#include "stop_signals.hpp"

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

namespace shadowsync::cli {
namespace {

std::atomic<int> g_signal{0};
// Never destroyed: the watcher thread is detached and may take a signal while the process exits,
// after static destructors have run; a destroyed stop_source there crashed the process (SIGSEGV
// after the checkpoint was written, seen when a signal arrived at exit).
std::stop_source& stop_source() {
  static std::stop_source* const source = new std::stop_source;
  return *source;
}
std::atomic<int> g_count{0};
static_assert(std::atomic<int>::is_always_lock_free);

void record(int signal_number) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, signal_number);
  g_count.fetch_add(1);
}

extern "C" void on_stop_signal(int signal_number) { record(signal_number); }

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void install_stop_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action{};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    const sigset_t set = stop_signal_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    stop_source();  // constructed before any signal can arrive
    std::thread([] {
      const sigset_t wanted = stop_signal_set();
      for (;;) {
        int signal_number = 0;
        if (sigwait(&wanted, &signal_number) == 0) {
          record(signal_number);
          stop_source().request_stop();
        }
      }
    }).detach();
  });
}

int received_stop_signal() { return g_signal.load(std::memory_order_relaxed); }

int stop_signals_received() { return g_count.load(std::memory_order_relaxed); }

std::stop_token stop_signal_token() { return stop_source().get_token(); }

void clear_stop_signal() {
  g_signal.store(0, std::memory_order_relaxed);
  g_count.store(0, std::memory_order_relaxed);
}

}  // namespace shadowsync::cli
