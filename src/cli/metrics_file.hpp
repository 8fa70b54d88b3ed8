// The --metrics file of `shadowsync train`, its one writer: one JSON object per report (progress,
// evaluation, final), each with the run's configuration under "config", and the events the run
// adds after them (the figures of every process across hosts).
#pragma once

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "shadowsync/train/train_report.hpp"

namespace shadowsync::cli {

class MetricsFile {
 public:
  // "" writes nothing. open() truncates `path`; Error naming --metrics and the path.
  MetricsFile(std::string path, nlohmann::json config) : path_(std::move(path)), config_(std::move(config)) {}
  void open();
  void write(const TrainReport& report);
  // One more line as it is (no "config"): e.g. the figures of every process of a run across
  // hosts (mpi/train_hook.hpp), so that the file has this one writer. Nothing before open().
  void write_event(const nlohmann::json& event);

 private:
  std::string path_;
  nlohmann::json config_;
  std::ofstream out_;
};

}  // namespace shadowsync::cli
