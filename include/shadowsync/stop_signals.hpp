// SIGINT / SIGTERM handling for training: the handler only records the signal; the trainer's
// coordinator polls it, stops the workers at their next batch and writes a checkpoint.
#pragma once

namespace shadowsync::train {

// Installs handlers for SIGINT and SIGTERM (idempotent).
void install_stop_signal_handlers();
// The first stop signal received since start (0 if none).
int received_stop_signal();
// For tests: forget a received signal.
void clear_stop_signal();

}  // namespace shadowsync::train
