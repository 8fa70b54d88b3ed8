// BackgroundParticipant: the engine's extension point for a background party that keeps the
// local replicas in step with something outside this Trainer (e.g. other processes of one run),
// started and stopped with the sync schedule. The engine knows nothing of what it talks to.
//
// Contract with the engine (calls come through the sync schedule, see sync_schedule.hpp):
//  - attach() once, from the thread that calls Trainer::run(), before training starts, after the
//    replicas and tables are initialized (or restored). The pointers stay valid until run() ends.
//  - start() when the workers start; stop() when they stop (the end of the run, or a pause for an
//    evaluation or checkpoint), after the local schedule's own threads are joined. stop() joins
//    the participant's threads and rethrows (once) an error one of them ended with; idempotent.
//    start() and stop() come from the coordinating thread, alternately.
//  - request_stop() from any thread: the last local worker has finished (no more local updates).
//  While running, the participant may read and write the replicas and the tables concurrently
//  with the Hogwild workers, with the memory model of sync_rule.hpp (relaxed whole-float accesses,
//  delta write-back); outside start()..stop() it must not touch them.
#pragma once

#include <cstddef>
#include <vector>

#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/train/touched_rows.hpp"

namespace shadowsync {

struct ParticipantAccess {
  std::vector<float*> replicas;  // the dense replicas of this Trainer (1 for hogwild, G otherwise)
  size_t dense_floats = 0;       // floats per replica
  EmbeddingStore* embeddings = nullptr;  // the shared tables
  TouchedRows* touched_rows = nullptr;   // the rows the workers updated (touched_rows.hpp)
};

class BackgroundParticipant {
 public:
  virtual ~BackgroundParticipant() = default;
  virtual void attach(const ParticipantAccess& access) = 0;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual void request_stop() {}
};

}  // namespace shadowsync
