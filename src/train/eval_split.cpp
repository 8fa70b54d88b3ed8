// check_eval_choice, held_out_split, run_eval_every: the eval split of every front end.
#include "shadowsync/train/eval_split.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync {

void check_eval_choice(const RunSettings& settings, bool eval_data_given) {
  if (eval_data_given && settings.eval_fraction) {
    throw Error(field("eval_data") + " and " + field("eval_fraction") + " exclude each other: give one");
  }
}

std::pair<DataParts, DataView> held_out_split(const RunSettings& settings, const DataParts& all, DataBlock& eval_copy) {
  if (settings.eval_fraction && *settings.eval_fraction == 0.0) return {all, DataView{}};
  return split_eval_tail(all, settings.eval_fraction.value_or(0.1), eval_copy);
}

uint64_t run_eval_every(const RunSettings& settings, uint64_t train_rows, uint64_t eval_rows) {
  if (settings.eval_every) return *settings.eval_every;
  if (settings.eval_fraction && *settings.eval_fraction > 0 && eval_rows > 0) {
    return TrainConfig::default_eval_every(train_rows, settings.config.epochs);
  }
  return 0;
}

}  // namespace shadowsync
