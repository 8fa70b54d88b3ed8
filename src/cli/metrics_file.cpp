// MetricsFile: JSON lines, flushed after every report (see metrics_file.hpp).
#include "metrics_file.hpp"

#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {

void MetricsFile::open() {
  if (path_.empty()) return;
  out_.open(path_, std::ios::out | std::ios::trunc);
  if (!out_) throw Error("--metrics: cannot write '" + path_ + "'");
}

void MetricsFile::write(const TrainReport& report) {
  if (path_.empty()) return;
  nlohmann::json j = report.to_json();
  j["config"] = config_;
  write_event(j);
}

void MetricsFile::write_event(const nlohmann::json& j) {
  if (path_.empty()) return;
  out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';  // paths may not be UTF-8
  out_.flush();
  if (!out_) throw Error("--metrics: write to '" + path_ + "' failed");
}

}  // namespace shadowsync::cli
