// AtomicFileWriter, OutputFile and refuse_output_over_input (include/shadowsync/core/file_io.hpp):
// atomic replacement, unique temporaries, write-through for FIFOs and symlinks, refusals.
#include "shadowsync/core/file_io.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

namespace fs = std::filesystem;

class FileIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("shadowsync-file-io-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  static void write(const std::string& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator())); }

  fs::path dir_;
};

TEST_F(FileIo, CommitReplacesAndLeavesNoTemporary) {
  const std::string p = path("out.txt");
  write(p, "old");
  {
    AtomicFileWriter w(p);
    w.write("new ");
    w.write("content");
    EXPECT_EQ(read(p), "old");  // nothing visible before commit
    w.commit();
    EXPECT_EQ(w.bytes_written(), 11u);
  }
  EXPECT_EQ(read(p), "new content");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIo, WithoutCommitTheOldFileStaysAndTheTemporaryGoes) {
  const std::string p = path("out.txt");
  write(p, "old");
  {
    AtomicFileWriter w(p);
    w.write("half");
  }
  EXPECT_EQ(read(p), "old");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIo, TwoWritersOfOnePathHaveTheirOwnTemporaries) {
  const std::string p = path("ckpt");
  AtomicFileWriter a(p);
  AtomicFileWriter b(p);
  EXPECT_NE(a.temp_path(), b.temp_path());
  a.write("aaaa");
  b.write("bb");
  a.commit();
  EXPECT_EQ(read(p), "aaaa");
  b.commit();
  EXPECT_EQ(read(p), "bb");  // whole files only, never a mix
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIo, WriteAtPatchesTheTemporary) {
  const std::string p = path("patched");
  AtomicFileWriter w(p);
  w.write("0123456789");
  w.write_at(2, "AB", 2);
  w.commit();
  EXPECT_EQ(read(p), "01AB456789");
}

TEST_F(FileIo, CreateFailureNamesThePath) {
  const std::string p = path("no-such-folder/out.txt");
  try {
    AtomicFileWriter w(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(FileIo, RegularOutputIsAtomic) {
  const std::string p = path("pred.txt");
  write(p, "old");
  {
    auto out = OutputFile::open(p);
    out->write("0.5\n");
    EXPECT_EQ(read(p), "old");
    out->commit();
    EXPECT_EQ(out->name(), p);
  }
  EXPECT_EQ(read(p), "0.5\n");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(FileIo, SymlinkStaysALinkAndItsTargetGetsTheContent) {
  const std::string target = path("target.txt");
  const std::string link = path("link.txt");
  write(target, "old");
  fs::create_symlink(target, link);
  {
    auto out = OutputFile::open(link);
    out->write("new");
    out->commit();
  }
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read(target), "new");
}

TEST_F(FileIo, FifoIsWrittenThroughNotReplaced) {
  const std::string fifo = path("pipe");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = read(fifo); });
  {
    auto out = OutputFile::open(fifo);
    out->write("streamed\n");
    out->commit();
  }
  reader.join();
  EXPECT_EQ(received, "streamed\n");
  struct stat st{};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST_F(FileIo, FolderIsRefused) {
  EXPECT_THROW(OutputFile::open(dir_.string()), Error);
}

TEST_F(FileIo, DashIsStandardOutput) {
  auto out = OutputFile::open("-");
  EXPECT_EQ(out->name(), "standard output");
  EXPECT_FALSE(fs::exists(path("-")));
}

TEST_F(FileIo, SameFileSeesHardAndSymbolicLinks) {
  const std::string a = path("a");
  write(a, "x");
  fs::create_hard_link(a, path("hard"));
  fs::create_symlink(a, path("soft"));
  write(path("other"), "x");
  EXPECT_TRUE(same_file(a, path("hard")));
  EXPECT_TRUE(same_file(a, path("soft")));
  EXPECT_FALSE(same_file(a, path("other")));
  EXPECT_FALSE(same_file(a, path("missing")));
  EXPECT_FALSE(same_file("-", "-"));
}

TEST_F(FileIo, OutputOverInputIsRefusedNamingBoth) {
  const std::string data = path("data.bin");
  write(data, "rows");
  fs::create_symlink(data, path("alias.bin"));
  try {
    refuse_output_over_input("--metrics", path("alias.bin"), {{"--eval-data", path("other")}, {"--data", data}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--metrics"), std::string::npos) << m;
    EXPECT_NE(m.find("--data '" + data + "'"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(refuse_output_over_input("--metrics", path("new.jsonl"), {{"--data", data}}));
  EXPECT_EQ(read(data), "rows");
}

// A pid that no longer exists: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

// Stale temporaries (a writer killed with -9): a writer of the same target removes those whose
// pid is dead, never this process's own or a live process's, nor other names.
TEST_F(FileIo, StaleTemporariesOfDeadProcessesAreRemoved) {
  const std::string target = path("c.ckpt");
  const pid_t dead = dead_pid();
  const std::string stale = fmt::format("{}.tmp.{}.3", target, dead);
  const std::string own = fmt::format("{}.tmp.{}.999", target, ::getpid());
  const std::string live = fmt::format("{}.tmp.{}.0", target, ::getppid());
  const std::string other_target = fmt::format("{}.tmp.{}.3", path("d.ckpt"), dead);
  const std::string not_ours = fmt::format("{}.tmp.{}.x", target, dead);
  for (const std::string& p : {stale, own, live, other_target, not_ours}) write(p, "partial");
  EXPECT_EQ(remove_stale_temporaries(target), 1u);
  EXPECT_FALSE(fs::exists(stale));
  for (const std::string& p : {own, live, other_target, not_ours}) EXPECT_TRUE(fs::exists(p)) << p;
  // The writer does it when it starts.
  write(stale, "partial");
  {
    AtomicFileWriter w(target);
    EXPECT_FALSE(fs::exists(stale));
    w.write("new");
    w.commit();
  }
  EXPECT_EQ(read(target), "new");
  EXPECT_TRUE(fs::exists(own));
}

// remove_pending_temporaries() (what convert's signal handler calls) removes the temporaries of
// the writers alive now, and nothing else.
TEST_F(FileIo, PendingTemporariesAreRemovedOnRequest) {
  write(path("keep.bin"), "old");
  auto a = std::make_unique<AtomicFileWriter>(path("a.bin"));
  AtomicFileWriter b(path("keep.bin"));
  b.write("x");
  const std::string a_temp = a->temp_path();
  a.reset();  // destroyed: no longer listed
  AtomicFileWriter c(path("c.bin"));
  EXPECT_TRUE(fs::exists(b.temp_path()));
  EXPECT_TRUE(fs::exists(c.temp_path()));
  write(a_temp, "someone else's file now");
  remove_pending_temporaries();
  EXPECT_FALSE(fs::exists(b.temp_path()));
  EXPECT_FALSE(fs::exists(c.temp_path()));
  EXPECT_TRUE(fs::exists(a_temp));
  EXPECT_EQ(read(path("keep.bin")), "old");
}

}  // namespace
}  // namespace shadowsync
