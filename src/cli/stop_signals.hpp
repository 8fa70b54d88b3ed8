// SIGINT / SIGTERM handling for `shadowsync train` (the engine itself never touches signals: it
// takes a stop token, which the first signal triggers).
//
// Behaviour (what `shadowsync train` does on signals):
//  - The first SIGINT or SIGTERM (under mpirun also its kill sequence's first SIGCONT) stops
//    training: every worker stops at its next batch (in
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
//
// mpirun_kill_sequence (a process started by mpirun): Open MPI ends a job (Ctrl-C to mpirun, a
// failed process) by sending every process SIGCONT, then SIGTERM odls_base_sigkill_timeout
// seconds later (1 by default), then SIGKILL as long again. A SIGCONT to a running process is
// taken as the first stop signal (recorded as SIGTERM), which doubles the time a process has to
// write its checkpoint. Ctrl-Z and fg of mpirun reach the processes as SIGSTOP and SIGCONT: the
// watcher, which wakes every 50 ms, sees a gap of over 400 ms between two wake-ups (the
// process was stopped) and takes a SIGCONT within 400 ms of it as a resume. (A watcher kept off
// the CPU for 400 ms just before the kill sequence's SIGCONT takes it as a resume too: the
// SIGTERM a window later stops the run, as it did before.)
void install_stop_signal_handlers(bool mpirun_kill_sequence = false);
// The first stop signal received since start (0 if none).
int received_stop_signal();
// How many stop signals were received since start (the first and any repeats).
int stop_signals_received();
// Triggered by the first stop signal (by the watcher thread, never inside a signal handler).
std::stop_token stop_signal_token();
// For tests: forget received signals.
void clear_stop_signal();

}  // namespace shadowsync::cli
