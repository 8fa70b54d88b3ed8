// The --metrics file of `shadowsync train`: one JSON object per report (progress, evaluation,
// final), each with the run's configuration under "config".
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

 private:
  std::string path_;
  nlohmann::json config_;
  std::ofstream out_;
};

}  // namespace shadowsync::cli
