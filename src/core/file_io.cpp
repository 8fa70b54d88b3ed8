// Atomic and write-through output files, and the output-is-an-input refusal (file_io.hpp).
#include "shadowsync/core/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

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

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)), temp_path_(unique_temp_name(path_)) {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error("'" + path_ + "': cannot create the temporary file '" + temp_path_ + "': " + errno_text(errno));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
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
