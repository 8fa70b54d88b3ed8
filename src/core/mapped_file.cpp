// open_input_file (the one open of an input: regular files, or also FIFOs and character devices)
// and MappedFile (+ mmap), with errors naming the file.
#include "core/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "shadowsync/core/error.hpp"

namespace shadowsync {

std::string describe_file_type(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

int open_input_file(const std::string& path, InputKinds kinds, size_t* size) {
  const bool streams = kinds == InputKinds::FilesAndStreams;
  // A FIFO that may be streamed is opened blocking, once, like `cat` opens it: the open waits
  // for its writer. (Opening it non-blocking first and reopening lost a fast writer: it could
  // connect to the first descriptor, write and close before the reopen, which then waited for
  // a writer that never came.) Everything else is opened O_NONBLOCK, so a FIFO where only
  // regular files are allowed, or a device, cannot block the open; fstat then decides.
  struct stat before {};
  const bool fifo_stream = streams && ::stat(path.c_str(), &before) == 0 && S_ISFIFO(before.st_mode);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (fifo_stream ? 0 : O_NONBLOCK));
  if (fd < 0) {
    throw Error(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(path + ": cannot stat: " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(path + ": is a directory, expected a file");
  }
  if (!S_ISREG(st.st_mode) && !(streams && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))) {
    ::close(fd);
    throw Error(path + ": is " + describe_file_type(st.st_mode) +
                (streams ? "; shadowsync reads files, FIFOs and standard input (-)"
                         : "; binary caches, checkpoints and model files are read as regular files (only text data "
                           "can be streamed)"));
  }
  // Back to blocking reads (a FIFO that became one between stat and open included: its reads
  // then wait for data, and end when no writer is left).
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  if (size != nullptr) *size = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0;
  return fd;
}

std::string read_small_file(const std::string& path, size_t max_bytes) {
  size_t size = 0;
  const int fd = open_regular_file(path, &size);
  if (size > max_bytes) {
    ::close(fd);
    throw Error(path + ": " + std::to_string(size) + " bytes, larger than the " + std::to_string(max_bytes) +
                " bytes such a file can have");
  }
  std::string text(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, text.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw Error(path + ": cannot read: " + (n == 0 ? std::string("file shrank while reading") : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return text;
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = open_regular_file(path, &size_);
  if (size_ > 0) {
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map_ == MAP_FAILED) {
      const int err = errno;
      map_ = nullptr;
      ::close(fd);
      throw Error(path + ": cannot mmap " + std::to_string(size_) + " bytes: " +
                  std::strerror(err));
    }
    ::madvise(map_, size_, MADV_WILLNEED);  // advisory only
  }
  ::close(fd);  // the mapping stays valid
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (map_ != nullptr) ::munmap(map_, size_);
    map_ = std::exchange(other.map_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (map_ != nullptr) ::munmap(map_, size_);
}

}  // namespace shadowsync
