// Atomic and write-through output files, and the output-is-an-input refusal (file_io.hpp).
#include "shadowsync/core/file_io.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// The temporaries of the writers alive now, for remove_pending_temporaries() (a signal handler):
// fixed slots, each claimed by one writer (state kFree -> kFilling -> kReady -> kFree). The
// handler only reads slots in state kReady, whose path is not changed while they are.
constexpr size_t kPendingSlots = 64;
enum SlotState : int { kFree = 0, kFilling = 1, kReady = 2 };
struct PendingSlot {
  std::atomic<int> state{kFree};
  char path[PATH_MAX];
};
std::array<PendingSlot, kPendingSlots> g_pending;
static_assert(std::atomic<int>::is_always_lock_free);

// Lists `path`; returns the slot index, or -1 when none is free or the path is too long (then a
// signal leaves that temporary behind, and the next writer of the same target removes it).
int list_pending(const std::string& path) {
  if (path.size() >= PATH_MAX) return -1;
  for (size_t i = 0; i < kPendingSlots; ++i) {
    int expected = kFree;
    if (g_pending[i].state.compare_exchange_strong(expected, kFilling)) {
      std::memcpy(g_pending[i].path, path.c_str(), path.size() + 1);
      g_pending[i].state.store(kReady);
      return static_cast<int>(i);
    }
  }
  return -1;
}

void unlist_pending(int slot) {
  if (slot >= 0) g_pending[static_cast<size_t>(slot)].state.store(kFree);
}

std::string unique_temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter.fetch_add(1));
}

void write_fully(int fd, const void* data, size_t bytes, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("'" + path + "': write failed: " + errno_text(errno));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void fsync_folder_of(const std::string& path) {
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse fsync on folders
    ::close(dir);
  }
}

}  // namespace

size_t remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  std::string folder = target.parent_path().string();
  if (folder.empty()) folder = ".";
  const std::string prefix = target.filename().string() + ".tmp.";
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return 0;
  size_t removed = 0;
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name(entry->d_name);
    if (!name.starts_with(prefix)) continue;
    // <pid>.<n>, both decimal, nothing else.
    const std::string_view rest = name.substr(prefix.size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) continue;
    long pid = 0;
    const auto [pid_end, pid_ec] = std::from_chars(rest.data(), rest.data() + dot, pid);
    uint64_t n = 0;
    const auto [n_end, n_ec] = std::from_chars(rest.data() + dot + 1, rest.data() + rest.size(), n);
    if (pid_ec != std::errc() || pid_end != rest.data() + dot || n_ec != std::errc() ||
        n_end != rest.data() + rest.size() || pid <= 0 || pid > INT_MAX) {
      continue;
    }
    if (static_cast<pid_t>(pid) == self) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    const std::string stale = folder + "/" + std::string(name);
    struct stat st {};
    if (::lstat(stale.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(stale.c_str()) == 0) {
      ++removed;
    }
  }
  ::closedir(dir);
  return removed;
}

void remove_pending_temporaries() noexcept {
  for (PendingSlot& slot : g_pending) {
    if (slot.state.load() == kReady) ::unlink(slot.path);
  }
}

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)), temp_path_(unique_temp_name(path_)) {
  remove_stale_temporaries(path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error("'" + path_ + "': cannot create the temporary file '" + temp_path_ + "': " + errno_text(errno));
  }
  pending_slot_ = list_pending(temp_path_);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
  unlist_pending(pending_slot_);
}

void AtomicFileWriter::write(const void* data, size_t bytes) {
  if (fd_ < 0) throw Error("'" + path_ + "': write after commit");
  write_fully(fd_, data, bytes, path_);
  written_ += bytes;
}

void AtomicFileWriter::write_at(size_t offset, const void* data, size_t bytes) {
  if (fd_ < 0) throw Error("'" + path_ + "': write after commit");
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("'" + path_ + "': write failed: " + errno_text(errno));
    }
    p += n;
    offset += static_cast<size_t>(n);
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) throw Error("'" + path_ + "': committed twice");
  if (::fsync(fd_) != 0) throw Error("'" + path_ + "': fsync failed: " + errno_text(errno));
  const int closed = ::close(fd_);
  fd_ = -1;
  if (closed != 0) throw Error("'" + path_ + "': close failed: " + errno_text(errno));
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw Error("'" + path_ + "': cannot rename '" + temp_path_ + "' over it: " + errno_text(errno));
  }
  committed_ = true;
  unlist_pending(pending_slot_);
  pending_slot_ = -1;
  fsync_folder_of(path_);
}

namespace {

class StandardOutput final : public OutputFile {
 public:
  void write(std::string_view text) override {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) {
      throw Error("standard output: write failed: " + errno_text(errno));
    }
  }
  void commit() override {
    if (std::fflush(stdout) != 0) throw Error("standard output: write failed: " + errno_text(errno));
  }
  std::string name() const override { return "standard output"; }
};

// A FIFO, device or terminal: opened for writing as it is (never replaced).
class WriteThrough final : public OutputFile {
 public:
  explicit WriteThrough(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error("'" + path_ + "': cannot open for writing: " + errno_text(errno));
  }
  ~WriteThrough() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void write(std::string_view text) override { write_fully(fd_, text.data(), text.size(), path_); }
  void commit() override {}
  std::string name() const override { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

class AtomicOutput final : public OutputFile {
 public:
  explicit AtomicOutput(const std::string& path, std::string name = {})
      : writer_(path), name_(name.empty() ? path : std::move(name)) {}
  void write(std::string_view text) override { writer_.write(text); }
  void commit() override { writer_.commit(); }
  std::string name() const override { return name_; }

 private:
  AtomicFileWriter writer_;
  std::string name_;
};

}  // namespace

std::unique_ptr<OutputFile> OutputFile::open(const std::string& path) {
  if (path == "-") return std::make_unique<StandardOutput>();
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw Error("'" + path + "': is a folder, not a file");
    return std::make_unique<WriteThrough>(path);
  }
  // A symbolic link stays a link: its target is replaced atomically (a dangling link's target
  // is created).
  struct stat link{};
  if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
    std::error_code ec;
    const std::filesystem::path target = std::filesystem::weakly_canonical(path, ec);
    if (ec) throw Error("'" + path + "': cannot resolve the symbolic link: " + ec.message());
    return std::make_unique<AtomicOutput>(target.string(), path);
  }
  return std::make_unique<AtomicOutput>(path);
}

bool same_file(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty() || a == "-" || b == "-") return false;
  struct stat sa{};
  struct stat sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void refuse_output_over_input(std::string_view output_name, const std::string& output,
                              const std::vector<std::pair<std::string_view, std::string>>& inputs) {
  for (const auto& [input_name, input] : inputs) {
    if (same_file(output, input)) {
      throw Error(fmt::format("{} '{}' is the same file as {} '{}'; writing it would destroy that input: "
                              "choose another output path",
                              output_name, output, input_name, input));
    }
  }
}

}  // namespace shadowsync
