// BackgroundSync: a party that syncs the replicas on threads of its own while the workers train:
// the shadow rounds (shadow_schedule.hpp) and any BackgroundParticipant of the engine (e.g. the
// multi-host sync). The engine starts it when the workers run and stops it around every pause.
//
// Contract with the engine: start() and stop() come from the coordinating thread, alternately,
// never concurrently. stop() lets the party finish what it is doing, joins its threads and
// rethrows (once) an error one of them ended with; idempotent. request_stop() may come from any
// thread (the last worker finished: no more local updates, so no round should start after it).
// While started, the party reads and writes the replicas concurrently with the Hogwild workers,
// with the memory model of sync_rule.hpp; outside start()..stop() it must not touch them.
#pragma once

namespace shadowsync {

class BackgroundSync {
 public:
  virtual ~BackgroundSync() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual void request_stop() {}
};

}  // namespace shadowsync
