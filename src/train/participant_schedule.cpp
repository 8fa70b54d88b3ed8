// A sync schedule with a background participant beside it (see participant_schedule.hpp).
#include "train/participant_schedule.hpp"

#include <exception>

namespace shadowsync::train {

void ParticipantSchedule::start() {
  inner_->start();
  try {
    participant_.start();
  } catch (...) {
    try {
      inner_->stop();
    } catch (...) {
    }
    throw;
  }
}

// Both are stopped even when the first one throws; the first error is rethrown.
uint64_t ParticipantSchedule::stop() {
  uint64_t rounds = 0;
  std::exception_ptr error;
  try {
    rounds = inner_->stop();
  } catch (...) {
    error = std::current_exception();
  }
  try {
    participant_.stop();
  } catch (...) {
    if (!error) error = std::current_exception();
  }
  if (error) std::rethrow_exception(error);
  return rounds;
}

void ParticipantSchedule::request_stop() {
  inner_->request_stop();
  participant_.request_stop();
}

}  // namespace shadowsync::train
