// BackgroundParticipant: the engine's extension point for a background party that keeps the
// local replicas in step with something outside this Trainer (e.g. other processes of one run).
// It is a BackgroundSync (shadowsync/sync/background_sync.hpp), started and stopped by the engine
// beside the shadow rounds (src/train/run_sync.cpp). The engine knows nothing of what it talks to.
//
// Contract with the engine:
//  - attach() once, from the thread that calls Trainer::run(), before training starts, after the
//    replicas and tables are initialized (or restored). The pointers stay valid until run() ends.
//  - start() when the workers start; stop() when they stop (the end of the run, or a pause for an
//    evaluation or checkpoint), after the shadow rounds' threads are joined. stop() joins the
//    participant's threads and rethrows (once) an error one of them ended with; idempotent.
//    start() and stop() come from the coordinating thread, alternately.
//  - request_stop() from any thread: the last local worker has finished (no more local updates).
//  While running, the participant may read and write the replicas and the tables concurrently
//  with the Hogwild workers, with the memory model of sync_rule.hpp (relaxed whole-float accesses,
//  delta write-back); outside start()..stop() it must not touch them.
#pragma once

#include <cstddef>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/sync/background_sync.hpp"
#include "shadowsync/train/touched_rows.hpp"

namespace shadowsync {

struct ParticipantAccess {
  std::vector<float*> replicas;  // the dense replicas of this Trainer (1 for hogwild, G otherwise)
  size_t dense_floats = 0;       // floats per replica
  EmbeddingStore* embeddings = nullptr;  // the shared tables
  TouchedRows* touched_rows = nullptr;   // the rows the workers updated (touched_rows.hpp)
};

class BackgroundParticipant : public BackgroundSync {
 public:
  virtual void attach(const ParticipantAccess& access) = 0;
};

}  // namespace shadowsync
