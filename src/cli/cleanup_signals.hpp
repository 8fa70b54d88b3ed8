// SIGINT / SIGTERM for commands that have nothing to save when stopped (`convert`): the signal
// removes the temporary files of the outputs being written (remove_pending_temporaries, see
// shadowsync/core/file_io.hpp) and then ends the process as the signal would (status 128 + N).
// `train` handles the same signals its own way (stop_signals.hpp: it stops and saves).
#pragma once

namespace shadowsync::cli {

// Installs the handler for SIGINT and SIGTERM (idempotent). The handler makes only
// async-signal-safe calls (unlink, signal, raise), so it may run on any thread at any time.
void remove_temporaries_on_stop_signals();

}  // namespace shadowsync::cli
