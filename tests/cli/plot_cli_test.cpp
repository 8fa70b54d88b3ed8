// `shadowsync plot` as a process: two runs' --metrics files of a real (tiny) training run become
// one PNG; a malformed line is refused naming file:line (exit 2), as is an output that is an
// input. The executable comes in SHADOWSYNC_EXE.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../common/run_command.hpp"
#include "../common/temp_paths.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;
using test::run_shadowsync;

// A fresh folder per test (tests/common/temp_paths.hpp).
struct Folder : test::TempDir {
  Folder() : test::TempDir("shadowsync_plot_cli") {}
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PlotCli, TwoTrainingRunsMakeOnePng) {
  const Folder dir;
  ASSERT_EQ(run_shadowsync("gen --rows 3000 --seed 3 --out '" + dir.file("d.tsv") + "'").exit_code, 0);
  for (const char* sync : {"s-pa", "fr-ma"}) {
    const auto r = run_shadowsync("train --data '" + dir.file("d.tsv") + "' --model tiny --sync " + sync +
                                  " --groups 2 --threads-per-group 1 --oversubscribe --eval-every 1000"
                                  " --progress-seconds 0.05 --metrics '" + dir.file(std::string(sync) + ".jsonl") + "'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  const auto r = run_shadowsync("plot '" + dir.file("s-pa.jsonl") + "' '" + dir.file("fr-ma.jsonl") + "' -o '" +
                                dir.file("curves.png") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "wrote " + dir.file("curves.png") + " (2 runs)\n");
  const std::string png = read_all(dir.file("curves.png"));
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(png.size(), 20000u);
}

TEST(PlotCli, MalformedLineAndOutputOverInputAreRefused) {
  const Folder dir;
  std::ofstream(dir.file("bad.jsonl")) << R"({"event": "progress", "examples": 10})" "\n" << "oops\n";
  auto r = run_shadowsync("plot '" + dir.file("bad.jsonl") + "' -o '" + dir.file("out.png") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("shadowsync: error: " + dir.file("bad.jsonl") + ":2: not a metrics line"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out.png")));
  r = run_shadowsync("plot '" + dir.file("bad.jsonl") + "' -o '" + dir.file("bad.jsonl") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("the output picture is one of the metrics files"), std::string::npos) << r.output;
  r = run_shadowsync("plot -o '" + dir.file("out.png") + "'");
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace shadowsync
