// Progress output of a training run: on a terminal one line rewritten in place; otherwise a
// plain line every few seconds.
#pragma once

#include <cstdio>
#include <string>

#include "shadowsync/train/train_report.hpp"

namespace shadowsync::cli {

class ProgressPrinter {
 public:
  // interval_s = 0 picks 0.5 s on a terminal and 5 s otherwise.
  ProgressPrinter(std::FILE* out, double interval_s, bool quiet);
  // Seconds between progress lines (0 when quiet).
  double interval_s() const { return quiet_ ? 0 : interval_s_; }
  // True when a progress line is due at `elapsed_s` (wall time since the start).
  bool due(double wall_s) const;
  void print(const TrainReport& report, double wall_s);
  // A line that must not be overwritten (evaluation, checkpoint, warning).
  void print_line(const std::string& line);
  // Ends an in-place line so that later output starts on a fresh line.
  void finish();

 private:
  std::FILE* out_;
  bool tty_;
  bool quiet_;
  double interval_s_;
  double last_wall_s_ = 0;  // the first line comes one interval after the start
  bool line_open_ = false;
};

// One line of the progress display, e.g.
// "1.20M/4.00M ex (30.0%)  215.3k ex/s  ETA 0:13  logloss 0.4721  sync 41.0 rounds/s".
std::string format_progress(const TrainReport& report);

}  // namespace shadowsync::cli
