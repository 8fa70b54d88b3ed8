// The Binder's warning as the command line shows it: `shadowsync train` on a described (not
// this) machine prints "shadowsync: warning: ...: threads and memory are not bound" exactly once,
// although the training run binds many threads. The numa library itself never prints; the
// line comes from the Binder's warning sink given by the trainer.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../common/cli_data.hpp"
#include "../common/run_command.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync::test {
namespace {

int count_of(const std::string& text, const std::string& part) {
  int n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(BindingWarningCli, TrainOnSyntheticTopologyWarnsOnce) {
  const std::string data = temp_path_for("numa_binding_warning", "data.tsv");
  SyntheticOptions options;
  options.rows = 2000;
  options.seed = 3;
  generate_synthetic_criteo(options, data);
  const RunResult r = run_shadowsync("train --data '" + data +
                                     "' --model tiny --rows-per-table 1024 --quiet --sync s-ma "
                                     "--topology 'package:2 core:2 pu:1' --groups 2 "
                                     "--threads-per-group 2 --eval-fraction 0.25");
  std::filesystem::remove(data);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(count_of(r.output, "shadowsync: warning:"), 1) << r.output;
  EXPECT_NE(r.output.find("shadowsync: warning: topology 'package:2 core:2 pu:1' is synthetic, not "
                          "this machine: threads and memory are not bound\n"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace shadowsync::test
