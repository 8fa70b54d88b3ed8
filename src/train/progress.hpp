// Progress output of a training run: on a terminal one line rewritten in place; otherwise a
// plain line every few seconds. And the --metrics file: one JSON object per report.
#pragma once

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "shadowsync/train/trainer.hpp"

namespace shadowsync::train {

class ProgressPrinter {
 public:
  // interval_s = 0 picks 0.5 s on a terminal and 5 s otherwise.
  ProgressPrinter(std::FILE* out, double interval_s, bool quiet);
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

class MetricsWriter {
 public:
  // Opens (truncates) `path`; "" writes nothing. Throws Error naming --metrics and the path.
  MetricsWriter(const std::string& path, nlohmann::json config);
  void write(const TrainReport& report);

 private:
  std::ofstream out_;
  nlohmann::json config_;
  std::string path_;
};

}  // namespace shadowsync::train
