// The --metrics file's one writer (src/cli/metrics_file.hpp): reports carry the run's config,
// events added after them (the figures of every process of a run across hosts) go into the same
// file as they are, after the reports; without a path nothing is written.
#include "cli/metrics_file.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "../common/temp_paths.hpp"

namespace shadowsync::cli {
namespace {

std::vector<nlohmann::json> lines_of(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(MetricsFile, EventsFollowTheReportsInTheSameFile) {
  const std::string path = test::temp_path_for("metrics_file", "run.jsonl");
  {
    MetricsFile file(path, {{"sync", "s-ma"}});
    file.open();
    TrainReport report;
    report.kind = ReportKind::Final;
    report.examples = 1234;
    file.write(report);
    file.write_event({{"event", "hosts"}, {"processes", 2}});
  }
  const std::vector<nlohmann::json> lines = lines_of(path);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].at("event"), "final");
  EXPECT_EQ(lines[0].at("examples"), 1234);
  EXPECT_EQ(lines[0].at("config").at("sync"), "s-ma");
  EXPECT_EQ(lines[1], (nlohmann::json{{"event", "hosts"}, {"processes", 2}}));  // as given: no config
  std::remove(path.c_str());
}

TEST(MetricsFile, NoPathWritesNothing) {
  MetricsFile file("", {});
  file.open();
  EXPECT_NO_THROW(file.write_event({{"event", "hosts"}}));
}

}  // namespace
}  // namespace shadowsync::cli
