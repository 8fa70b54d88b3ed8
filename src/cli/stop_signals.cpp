// Stop-signal recording (see stop_signals.hpp): a watcher thread takes SIGINT / SIGTERM (under
// mpirun also SIGCONT) with sigtimedwait() while every other thread blocks them; a recording handler (one lock-free atomic
// compare-exchange and increment, async-signal-safe) covers threads created before.
#include "stop_signals.hpp"

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
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

bool g_mpirun = false;  // set once, before the watcher starts

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (g_mpirun) sigaddset(&set, SIGCONT);
  return set;
}

// The watcher wakes at least this often, so a wait that lasted much longer means that the
// process was stopped (SIGSTOP: Ctrl-Z of mpirun reaches the processes as SIGSTOP, which no
// process can take) and the SIGCONT that ended it is a resume, not the kill sequence.
constexpr auto kWatcherTick = std::chrono::milliseconds(50);
constexpr auto kStoppedAfter = std::chrono::milliseconds(400);

}  // namespace

void install_stop_signal_handlers(bool mpirun_kill_sequence) {
  static std::once_flag once;
  std::call_once(once, [mpirun_kill_sequence] {
    g_mpirun = mpirun_kill_sequence;
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
      // Under mpirun: when the watcher last returned from a wait, and when it last found that
      // the process had been stopped (a gap between two returns of more than kStoppedAfter).
      auto last_return = std::chrono::steady_clock::now();
      auto resumed_at = last_return - kStoppedAfter;
      for (;;) {
        int signal_number = 0;
        if (!g_mpirun) {
          if (sigwait(&wanted, &signal_number) != 0) continue;
        } else {
          timespec tick{0, std::chrono::nanoseconds(kWatcherTick).count()};
          signal_number = sigtimedwait(&wanted, nullptr, &tick);
          const auto now = std::chrono::steady_clock::now();
          // On a resume the tick's timeout and the SIGCONT come in either order: the gap is
          // seen on whichever returns first.
          if (now - last_return > kStoppedAfter) resumed_at = now;
          last_return = now;
          if (signal_number < 0) continue;  // EAGAIN (the tick) or EINTR
          if (signal_number == SIGCONT) {
            if (now - resumed_at < kStoppedAfter) continue;  // the resume after a stop
            // mpirun's kill sequence: SIGCONT, then SIGTERM one window later: stop now.
            signal_number = SIGTERM;
          }
        }
        record(signal_number);
        stop_source().request_stop();
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
