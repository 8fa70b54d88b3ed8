// SIGINT / SIGTERM handling for `shadowsync train` (the engine itself never touches signals: it
// takes a stop token, which the first signal triggers).
//
// Behaviour (what `shadowsync train` does on signals):
//  - The first SIGINT or SIGTERM stops training: every worker stops at its next batch (in
//    --deterministic mode at the next turn-cycle boundary, so the run resumes bit-identically),
//    the final evaluation runs, a checkpoint is written (--checkpoint, else
//    shadowsync-interrupted.ckpt) and the process exits with 128 + the signal number.
//  - Further SIGINT / SIGTERM while it shuts down are counted, reported and otherwise ignored:
//    the checkpoint being written is finished. To abort at once use SIGKILL; checkpoints are
//    written atomically, so an abort never damages the previous checkpoint.
//  - A signal that arrives after the last batch (during the final evaluation or checkpoint) is
//    not dropped: the run finishes both and exits with 128 + the signal number, saying that
//    training itself had completed.
//
// How: install_stop_signal_handlers() blocks SIGINT and SIGTERM in the calling thread, so every
// thread created afterwards (workers, shadow threads, oneTBB and OpenMP threads) inherits the
// block, and starts one watcher thread that takes them with sigwait() and records them. No
// signal handler ever interrupts a thread that computes: an asynchronous handler running on a
// thread inside oneDNN's JIT GEMM kernels corrupted the heap (glibc "corrupted size vs.
// prev_size", the crash of two quick SIGINTs during the final evaluation). A handler that only
// records the signal stays installed for threads created before the call.
#pragma once

#include <stop_token>

namespace shadowsync::cli {

// Blocks SIGINT / SIGTERM in the calling thread and starts the watcher thread (idempotent).
// Call it before any other thread is created (e.g. first thing in a command), so that every
// thread inherits the block.
void install_stop_signal_handlers();
// The first stop signal received since start (0 if none).
int received_stop_signal();
// How many stop signals were received since start (the first and any repeats).
int stop_signals_received();
// Triggered by the first stop signal (by the watcher thread, never inside a signal handler).
std::stop_token stop_signal_token();
// For tests: forget received signals.
void clear_stop_signal();

}  // namespace shadowsync::cli
