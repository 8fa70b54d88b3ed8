// The eval split of a run, made the same way by every front end from its RunSettings: eval data
// and eval_fraction exclude each other; without eval data the last eval_fraction (default 0.1)
// of the training rows is held out (0: none, no evaluation); eval_every when given, else with
// eval_fraction > 0 about TrainConfig::kDefaultEvaluations evaluations along the run, else only
// the final one.
#pragma once

#include <cstdint>
#include <utility>

#include "shadowsync/data/data_parts.hpp"
#include "shadowsync/data/dataset.hpp"
#include "shadowsync/train/run_options.hpp"

namespace shadowsync {

// Throws Error naming eval_data and eval_fraction when eval data is given and eval_fraction too.
void check_eval_choice(const RunSettings& settings, bool eval_data_given);

// Without eval data: the training rows of `all` and the held-out tail (copied into `eval_copy`
// when it spans two files); eval_fraction 0: all of them and no rows held out.
std::pair<DataParts, DataView> held_out_split(const RunSettings& settings, const DataParts& all, DataBlock& eval_copy);

// The TrainConfig::eval_every of the run (see above).
uint64_t run_eval_every(const RunSettings& settings, uint64_t train_rows, uint64_t eval_rows);

}  // namespace shadowsync
