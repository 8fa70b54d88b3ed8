// Starting a run from a trained model (TrainConfig::init_from): checks the checkpoint against
// the run, then fills the run's state from it. Every replica gets the checkpoint's mean replica
// and every replica's dense optimizer state the checkpoint's mean optimizer state (whatever the
// group counts of the two runs: the mean replica is the model the checkpoint's evaluation and
// predictions use); the embedding tables and their accumulators are copied as they are. The
// run's progress and the sync rule's state are not read (they start anew).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "shadowsync/train/init_chain.hpp"
#include "shadowsync/train/train_config.hpp"
#include "shadowsync/train/train_state.hpp"

namespace shadowsync {
class CheckpointReader;
}

namespace shadowsync::train {

// The checkpoint a run starts from, opened and checked against the run before anything of the
// run is allocated; then read into the run's state.
class InitSource {
 public:
  // Opens config.init_from and checks it against config.model (the data's schema first, naming
  // the first column that differs; then hashing; then the model) and the dense optimizer. Error
  // naming field("init_from") and the file: unreadable, another format, any difference.
  explicit InitSource(const TrainConfig& config);
  ~InitSource();
  InitSource(const InitSource&) = delete;
  InitSource& operator=(const InitSource&) = delete;

  // Checks every section's size against `state` (allocated for config.model), then reads it in.
  // Returns the chain this run records: the checkpoint's chain followed by the checkpoint.
  std::vector<InitOrigin> load_into(TrainState& state) const;

 private:
  std::string path_;
  std::string where_;
  std::unique_ptr<CheckpointReader> reader_;
  nlohmann::json header_;
};

}  // namespace shadowsync::train
