// Tests of `shadowsync export` as a process: what it writes and prints, and its refusals, each
// naming the option (--out over --checkpoint or over the files beside it, a missing folder, a
// name not ending in .onnx, --opset out of range, a file that is not a checkpoint). The
// executable comes in SHADOWSYNC_EXE.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {
namespace {

using test::RunResult;
namespace fs = std::filesystem;

RunResult run_in(const fs::path& folder, const std::string& args) {
  return test::run_shell_command(
      fmt::format("cd '{}' && timeout 120 '{}' {} 2>&1", folder.string(), test::shadowsync_exe(), args));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One folder with a trained checkpoint (tiny, Criteo's layout), shared by the tests.
const fs::path& fixture() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("shadowsync_export_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    generate_synthetic_criteo(SyntheticOptions{300, 3}, (d / "data.tsv").string());
    const RunResult trained = run_in(d, "train --data data.tsv --model tiny --rows-per-table 64 --quiet --epochs 1 "
                                        "--topology 'package:1 core:1 pu:1' --checkpoint model.ckpt");
    EXPECT_EQ(trained.exit_code, 0) << trained.output;
    return d;
  }();
  return dir;
}

class ExportCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fixture() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(work_);
    fs::create_directories(work_);
    fs::copy_file(fixture() / "model.ckpt", work_ / "model.ckpt");
  }
  void TearDown() override { fs::remove_all(work_); }
  fs::path work_;
};

TEST_F(ExportCommand, WritesTheModelAndItsServingJsonAndSaysWhat) {
  const RunResult r = run_in(work_, "export --checkpoint model.ckpt --out m.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const uint64_t model_bytes = fs::file_size(work_ / "m.onnx");
  const uint64_t json_bytes = fs::file_size(work_ / "m.serving.json");
  EXPECT_EQ(r.output, fmt::format("wrote m.onnx ({} bytes; opset 13; 34 initializers)\n"
                                  "wrote m.serving.json ({} bytes)\n"
                                  "input numeric: float32 [batch, 13] (I1, I2, I3, I4, ... (13 columns))\n"
                                  "input categorical: int64 [batch, 26] (C1, C2, C3, C4, ... (26 columns))\n"
                                  "output probability: float32 [batch]\n",
                                  model_bytes, json_bytes));
  EXPECT_NE(read_file(work_ / "m.serving.json").find("\"format\": \"shadowsync-serving\""), std::string::npos);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(work_)) {
    ++files;
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 3);  // model.ckpt, m.onnx, m.serving.json: no temporaries, no data file

  const RunResult ext = run_in(work_, "export --checkpoint model.ckpt --out m.onnx --opset 17 --external-data-threshold 0");
  ASSERT_EQ(ext.exit_code, 0) << ext.output;
  EXPECT_NE(ext.output.find("opset 17; 34 initializers, 34 of them in m.onnx.data)"), std::string::npos) << ext.output;
  EXPECT_NE(ext.output.find(fmt::format("wrote m.onnx.data ({} bytes of external data)", fs::file_size(work_ / "m.onnx.data"))),
            std::string::npos)
      << ext.output;
}

TEST_F(ExportCommand, RefusesAnOutputOverTheCheckpoint) {
  fs::copy_file(work_ / "model.ckpt", work_ / "c.onnx");
  const std::string before = read_file(work_ / "c.onnx");
  RunResult r = run_in(work_, "export --checkpoint c.onnx --out c.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shadowsync: error: --out 'c.onnx' is the same file as --checkpoint 'c.onnx'; writing it would "
                      "destroy that input: choose another output path\n");
  EXPECT_EQ(read_file(work_ / "c.onnx"), before);
  fs::copy_file(work_ / "model.ckpt", work_ / "d.serving.json");
  r = run_in(work_, "export --checkpoint d.serving.json --out d.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("error: --out (its serving description) 'd.serving.json' is the same file as --checkpoint "
                          "'d.serving.json'"),
            std::string::npos)
      << r.output;
  fs::copy_file(work_ / "model.ckpt", work_ / "e.onnx.data");
  r = run_in(work_, "export --checkpoint e.onnx.data --out e.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("error: --out (its external data) 'e.onnx.data' is the same file as --checkpoint 'e.onnx.data'"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(work_ / "d.onnx"));
  EXPECT_FALSE(fs::exists(work_ / "e.onnx"));
}

TEST_F(ExportCommand, RefusesBadOutputPathsAndOpsets) {
  RunResult r = run_in(work_, "export --checkpoint model.ckpt --out m.bin");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shadowsync: error: --out 'm.bin' must be a file name ending in .onnx (the files beside it are "
                      "named after it: m.bin.serving.json, m.bin.data)\n");
  r = run_in(work_, "export --checkpoint model.ckpt --out missing/m.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shadowsync: error: --out 'missing/m.onnx': folder 'missing' does not exist\n");
  r = run_in(work_, "export --checkpoint model.ckpt --out m.onnx --opset 12");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shadowsync: error: --opset expects an integer in [13, 17], got 12\n");
  EXPECT_FALSE(fs::exists(work_ / "m.onnx"));
  EXPECT_FALSE(fs::exists(work_ / "m.serving.json"));
}

TEST_F(ExportCommand, RefusesAFileThatIsNotACheckpoint) {
  std::ofstream(work_ / "notes.txt") << "not a checkpoint\n";
  const RunResult r = run_in(work_, "export --checkpoint notes.txt --out m.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.output, "shadowsync: error: checkpoint 'notes.txt': not a shadowsync checkpoint (wrong magic)\n");
  EXPECT_FALSE(fs::exists(work_ / "m.onnx"));
  const RunResult missing = run_in(work_, "export --checkpoint nothing.ckpt --out m.onnx");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.output, "shadowsync: error: checkpoint nothing.ckpt: cannot open: No such file or directory\n");
}

}  // namespace
}  // namespace shadowsync
