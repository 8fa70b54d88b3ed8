// The SIGINT / SIGTERM handler of `convert` (cleanup_signals.hpp): remove our temporaries, then
// die of the signal.
#include "cleanup_signals.hpp"

#include <csignal>

#include "shadowsync/core/file_io.hpp"

namespace shadowsync::cli {
namespace {

extern "C" void remove_temporaries_and_die(int signal_number) {
  remove_pending_temporaries();
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

}  // namespace

void remove_temporaries_on_stop_signals() {
  struct sigaction action {};
  action.sa_handler = remove_temporaries_and_die;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

}  // namespace shadowsync::cli
