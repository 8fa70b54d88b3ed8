// Tests of `shadowsync predict` outputs as processes: standard output by default and for
// --out -, a FIFO written through (read by a thread), a symbolic link written through to its
// target (the link stays), a regular file replaced atomically (no temporary left), and an
// output that is one of the inputs refused. The executable comes in SHADOWSYNC_EXE.
#include <fcntl.h>
#include <poll.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "../common/run_command.hpp"
#include "shadowsync/synthetic/synthetic.hpp"

namespace shadowsync {
namespace {

using test::RunResult;
namespace fs = std::filesystem;

constexpr int kRows = 600;

// Runs `shadowsync ARGS` in `folder` (a hang ends after 120 s): stdout only, or stdout and
// stderr with merge_stderr, or what `redirect` says.
RunResult run_in(const fs::path& folder, const std::string& args, bool merge_stderr = false,
                 const char* redirect = nullptr) {
  return test::run_shell_command(
      fmt::format("cd '{}' && timeout 120 '{}' {}{}", folder.string(), test::shadowsync_exe(), args,
                  redirect != nullptr ? redirect : merge_stderr ? " 2>&1" : " 2>/dev/null"));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One folder with data, a trained checkpoint and the expected predictions for the binary.
struct Fixture {
  fs::path dir;
  std::string data, checkpoint, expected;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.dir = fs::temp_directory_path() / ("shadowsync_predict_" + std::to_string(::getpid()));
    fs::remove_all(x.dir);
    fs::create_directories(x.dir / "work");
    x.data = (x.dir / "data.tsv").string();
    x.checkpoint = (x.dir / "model.ckpt").string();
    generate_synthetic_criteo(SyntheticOptions{kRows, 3}, x.data);
    const RunResult trained = run_in(
        x.dir, "train --data data.tsv --model tiny --rows-per-table 1024 --quiet --epochs 1 "
               "--topology 'package:1 core:1 pu:1' --checkpoint model.ckpt",
        true);
    EXPECT_EQ(trained.exit_code, 0) << trained.output;
    const RunResult predicted = run_in(x.dir, "predict --checkpoint model.ckpt --data data.tsv");
    EXPECT_EQ(predicted.exit_code, 0);
    x.expected = predicted.output;
    return x;
  }();
  return f;
}

class PredictCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fixture().dir / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(work_);
    fs::create_directories(work_);
    args_ = "predict --checkpoint '" + fixture().checkpoint + "' --data '" + fixture().data + "'";
  }
  void TearDown() override { fs::remove_all(work_); }
  fs::path work_;
  std::string args_;
};

// Without --out, and with --out -, the probabilities go to standard output (status to stderr),
// and no file named '-' appears.
TEST_F(PredictCommand, WritesToStandardOutput) {
  const std::string& expected = fixture().expected;
  ASSERT_EQ(std::count(expected.begin(), expected.end(), '\n'), kRows);
  EXPECT_EQ(expected.find("wrote"), std::string::npos);
  const RunResult dash = run_in(work_, args_ + " --out -");
  EXPECT_EQ(dash.exit_code, 0);
  EXPECT_EQ(dash.output, expected);
  EXPECT_FALSE(fs::exists(work_ / "-"));
  const RunResult status = run_in(work_, args_ + " --out -", false, " 2>&1 >/dev/null");
  EXPECT_NE(status.output.find(fmt::format("wrote {} probabilities to standard output", kRows)),
            std::string::npos)
      << status.output;
}

// A regular file is replaced atomically: its content, and no temporary left next to it.
TEST_F(PredictCommand, RegularFileIsReplacedAtomically) {
  const fs::path out = work_ / "p.txt";
  std::ofstream(out) << "old\n";
  const RunResult r = run_in(work_, args_ + " --out p.txt");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(read_file(out), fixture().expected);
  for (const auto& entry : fs::directory_iterator(work_)) {
    EXPECT_EQ(entry.path().filename(), "p.txt");
  }
}

// A FIFO stays a FIFO: the predictions are written through to its reader.
TEST_F(PredictCommand, FifoIsWrittenThrough) {
  const fs::path fifo = work_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The reader never blocks: it opens without waiting for a writer and polls until the writer
  // has come and gone (POLLHUP) or predict has ended without ever opening the FIFO.
  std::string received;
  std::atomic<bool> predict_ended{false};
  std::thread reader([&] {
    const int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd < 0) return;
    char buffer[1 << 16];
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      ::poll(&p, 1, 100);
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n > 0) {
        received.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if ((n == 0 && (p.revents & POLLHUP)) || predict_ended.load()) break;
    }
    ::close(fd);
  });
  const RunResult r = run_in(work_, args_ + " --out pipe");
  predict_ended = true;
  reader.join();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(received, fixture().expected);
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
}

// A symbolic link stays a link; its target gets the predictions.
TEST_F(PredictCommand, SymlinkIsWrittenThroughToItsTarget) {
  const fs::path target = work_ / "target.txt";
  std::ofstream(target) << "old\n";
  fs::create_symlink("target.txt", work_ / "link.txt");
  const RunResult r = run_in(work_, args_ + " --out link.txt");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(work_ / "link.txt"));
  EXPECT_EQ(read_file(target), fixture().expected);
}

// An output that is an input (directly, through a link) is refused; the input is unchanged.
TEST_F(PredictCommand, OutputOverAnInputIsRefused) {
  const std::string data_before = read_file(fixture().data);
  RunResult r = run_in(work_, args_ + " --out '" + fixture().data + "'", true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--out '" + fixture().data + "' is the same file as --data '" +
                          fixture().data + "'; writing it would destroy that input"),
            std::string::npos)
      << r.output;
  fs::create_symlink(fixture().checkpoint, work_ / "ckpt-link");
  r = run_in(work_, args_ + " --out ckpt-link", true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("is the same file as --checkpoint '" + fixture().checkpoint + "'"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(read_file(fixture().data), data_before);
  EXPECT_TRUE(fs::is_symlink(work_ / "ckpt-link"));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) out.push_back(text.substr(at, nl - at));
  return out;
}

// One value per data line, in order, or a refusal naming the first bad line: a bad label, a NUL
// byte, a line of commas, an empty line inside the data. With --bad-rows nan those lines give
// "nan" and every other line its own probability. A byte order mark and a trailing empty line
// change nothing (convert reads that file's rows too).
TEST_F(PredictCommand, OneValuePerDataLineOrARefusal) {
  const std::vector<std::string> expected = lines_of(fixture().expected);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kRows));
  std::vector<std::string> rows = lines_of(read_file(fixture().data));
  ASSERT_EQ(rows.size(), static_cast<size_t>(kRows));
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(work_ / name, std::ios::binary) << text;
    return (work_ / name).string();
  };
  std::string joined;
  for (const std::string& r : rows) joined += r + "\n";
  // Trailing empty line and byte order mark: the same predictions, and convert agrees.
  for (const std::string& text : {joined + "\n", "\xEF\xBB\xBF" + joined, joined + "\r\n\n"}) {
    const std::string in = write("same.tsv", text);
    const RunResult r = run_in(work_, "predict --checkpoint '" + fixture().checkpoint + "' --data " + in);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output, fixture().expected);
    const RunResult c = run_in(work_, "convert " + in + " same.bin --rows-per-table 1024", true);
    EXPECT_NE(c.output.find(fmt::format("{}: {} rows from {} lines, 0 bad lines", in, kRows, kRows)),
              std::string::npos) << c.output;
  }
  // Bad lines.
  std::vector<std::string> bad = rows;
  bad[149][0] = '2';                                      // line 150: bad label
  bad[299] = bad[299].substr(0, 4) + '\0' + bad[299].substr(5);  // line 300: NUL byte
  std::replace(bad[449].begin(), bad[449].end(), '\t', ',');     // line 450: commas
  bad[499].clear();                                         // line 500: empty
  std::string bad_text;
  for (const std::string& r : bad) bad_text += r + "\n";
  const std::string in = write("bad.tsv", bad_text);
  RunResult r = run_in(work_, "predict --checkpoint '" + fixture().checkpoint + "' --data " + in, true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find(in + ":150: label '2' is not 0 or 1"), std::string::npos) << r.output;
  r = run_in(work_, "predict --bad-rows nan --checkpoint '" + fixture().checkpoint + "' --data " + in);
  EXPECT_EQ(r.exit_code, 0);
  const std::vector<std::string> got = lines_of(r.output);
  ASSERT_EQ(got.size(), static_cast<size_t>(kRows));
  for (size_t i = 0; i < got.size(); ++i) {
    const bool is_bad = i == 149 || i == 299 || i == 449 || i == 499;
    EXPECT_EQ(got[i], is_bad ? "nan" : expected[i]) << "line " << i + 1;
  }
  r = run_in(work_, "predict --bad-rows nan --checkpoint '" + fixture().checkpoint + "' --data " + in,
             false, " 2>&1 >/dev/null");
  EXPECT_NE(r.output.find("4 bad lines given nan (first: " + in + ":150: label '2' is not 0 or 1)"),
            std::string::npos) << r.output;
  r = run_in(work_, "predict --bad-rows skip --checkpoint '" + fixture().checkpoint + "' --data " + in, true);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--bad-rows"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace shadowsync
