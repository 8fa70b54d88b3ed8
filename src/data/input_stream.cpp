// InputStream: opening data paths as byte streams (stdin, FIFO, file) and decoding gzip (zlib,
// multi-member) and zstd (several frames) on the fly, with errors naming the file and the
// compressed offset.
#include "input_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/header_line.hpp"

namespace shadowsync::data {

struct InputStream::Decoder {
  z_stream z{};
  bool z_ready = false;
  ZSTD_DCtx* zstd = nullptr;
  ~Decoder() {
    if (z_ready) inflateEnd(&z);
    if (zstd != nullptr) ZSTD_freeDCtx(zstd);
  }
};

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
    case Compression::kNone: break;
  }
  return "uncompressed";
}

Compression detect_compression(std::string_view first_bytes) {
  if (first_bytes.starts_with("\x1f\x8b")) return Compression::kGzip;
  if (first_bytes.starts_with("\x28\xb5\x2f\xfd")) return Compression::kZstd;
  // A zstd skippable frame (magic 0x184D2A50..0x184D2A5F, little endian), e.g. the one `pzstd`
  // writes first: the decoder skips it and reads the frames that follow.
  if (first_bytes.size() >= 4 && (static_cast<unsigned char>(first_bytes[0]) & 0xF0) == 0x50 &&
      first_bytes.substr(1, 3) == "\x2a\x4d\x18") {
    return Compression::kZstd;
  }
  return Compression::kNone;
}

bool is_mappable_text(const std::string& path) {
  if (path == "-") return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  char magic[4];
  const ssize_t n = ::pread(fd, magic, sizeof magic, 0);
  ::close(fd);
  return detect_compression(std::string_view(magic, n > 0 ? static_cast<size_t>(n) : 0)) ==
         Compression::kNone;
}

std::unique_ptr<InputStream> InputStream::open(const std::string& path) {
  std::unique_ptr<InputStream> s(new InputStream);
  if (path == "-") {
    s->name_ = "<stdin>";
    s->fd_ = STDIN_FILENO;
  } else {
    s->name_ = path;
    // Regular files, FIFOs (read like `cat` reads them) and character devices.
    const int fd = open_input_file(path, InputKinds::FilesAndStreams);
    s->fd_ = fd;
    s->owns_fd_ = true;
  }
  s->start();
  return s;
}

std::unique_ptr<InputStream> InputStream::from_memory(std::string_view bytes, std::string name) {
  std::unique_ptr<InputStream> s(new InputStream);
  s->name_ = std::move(name);
  s->memory_ = bytes;
  s->start();
  return s;
}

InputStream::~InputStream() {
  if (owns_fd_) ::close(fd_);
}

size_t InputStream::read_source(char* buf, size_t n) {
  if (fd_ < 0) {
    const size_t k = std::min(n, memory_.size() - memory_pos_);
    std::memcpy(buf, memory_.data() + memory_pos_, k);
    memory_pos_ += k;
    return k;
  }
  for (;;) {
    const ssize_t k = ::read(fd_, buf, n);
    if (k >= 0) return static_cast<size_t>(k);
    if (errno == EINTR) continue;
    throw Error(fmt::format("{}: cannot read at offset {}: {}", name_, consumed_,
                            std::strerror(errno)));
  }
}

size_t InputStream::refill() {
  if (source_done_) return 0;
  if (in_pos_ == in_end_) {
    in_pos_ = in_end_ = 0;
  } else if (in_pos_ > 0) {
    std::memmove(in_.get(), in_.get() + in_pos_, in_end_ - in_pos_);
    in_end_ -= in_pos_;
    in_pos_ = 0;
  }
  const size_t k = read_source(in_.get() + in_end_, kInputBufferBytes - in_end_);
  if (k == 0) source_done_ = true;
  in_end_ += k;
  consumed_ += k;
  return k;
}

void InputStream::start() {
  in_.reset(new char[kInputBufferBytes]);
  while (in_end_ < 4 && refill() > 0) {
  }
  compression_ = detect_compression(std::string_view(in_.get(), in_end_));
  if (compression_ == Compression::kNone) return;
  decoder_ = std::make_unique<Decoder>();
  if (compression_ == Compression::kGzip) {
    if (inflateInit2(&decoder_->z, 15 + 16) != Z_OK) throw Error(name_ + ": cannot start zlib");
    decoder_->z_ready = true;
  } else {
    decoder_->zstd = ZSTD_createDCtx();
    if (decoder_->zstd == nullptr) throw Error(name_ + ": cannot start zstd");
  }
  member_open_ = true;
}

void InputStream::corrupt(const std::string& reason) const {
  throw Error(fmt::format("{}: corrupt {} data at compressed offset {}: {}", name_,
                          compression_name(compression_), compressed_offset(), reason));
}

size_t InputStream::read(char* buf, size_t n) {
  if (n == 0) return 0;
  size_t k = 0;
  switch (compression_) {
    case Compression::kGzip: k = read_gzip(buf, n); break;
    case Compression::kZstd: k = read_zstd(buf, n); break;
    case Compression::kNone: k = read_plain(buf, n); break;
  }
  bytes_out_ += k;
  return k;
}

size_t InputStream::read_plain(char* buf, size_t n) {
  if (in_pos_ < in_end_) {
    const size_t k = std::min(n, in_end_ - in_pos_);
    std::memcpy(buf, in_.get() + in_pos_, k);
    in_pos_ += k;
    return k;
  }
  if (source_done_) return 0;
  const size_t k = read_source(buf, n);
  consumed_ += k;
  if (k == 0) source_done_ = true;
  return k;
}

size_t InputStream::read_full(char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t k = read(buf + done, n - done);
    if (k == 0) break;
    done += k;
  }
  return done;
}

size_t InputStream::read_gzip(char* buf, size_t n) {
  z_stream& z = decoder_->z;
  for (;;) {
    if (in_pos_ == in_end_ && refill() == 0) {
      if (member_open_) {
        throw Error(fmt::format("{}: truncated gzip data: the file ends at compressed offset {} "
                                "inside a gzip member",
                                name_, compressed_offset()));
      }
      return 0;
    }
    if (!member_open_) {  // another member follows (multi-member gzip, e.g. cat a.gz b.gz)
      if (inflateReset(&z) != Z_OK) corrupt("cannot reset zlib");
      member_open_ = true;
    }
    z.next_in = reinterpret_cast<Bytef*>(in_.get() + in_pos_);
    z.avail_in = static_cast<uInt>(in_end_ - in_pos_);
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = static_cast<uInt>(std::min<size_t>(n, uInt{1} << 30));
    const int rc = inflate(&z, Z_NO_FLUSH);
    in_pos_ = in_end_ - z.avail_in;
    const size_t produced = static_cast<size_t>(reinterpret_cast<char*>(z.next_out) - buf);
    if (rc == Z_STREAM_END) {
      member_open_ = false;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      corrupt(z.msg != nullptr ? z.msg : fmt::format("zlib error {}", rc));
    }
    if (produced > 0) return produced;
  }
}

size_t InputStream::read_zstd(char* buf, size_t n) {
  for (;;) {
    if (in_pos_ == in_end_ && refill() == 0) {
      if (member_open_) {
        throw Error(fmt::format("{}: truncated zstd data: the file ends at compressed offset {} "
                                "inside a frame",
                                name_, compressed_offset()));
      }
      return 0;
    }
    ZSTD_inBuffer in{in_.get(), in_end_, in_pos_};
    ZSTD_outBuffer out{buf, n, 0};
    const size_t rc = ZSTD_decompressStream(decoder_->zstd, &out, &in);
    in_pos_ = in.pos;
    if (ZSTD_isError(rc)) corrupt(ZSTD_getErrorName(rc));
    member_open_ = rc != 0;
    if (out.pos > 0) return out.pos;
  }
}

}  // namespace shadowsync::data

// read_first_line / split_header (header_line.hpp): line 1 through the same InputStream as the
// readers, so compressed files give their decompressed first line.
namespace shadowsync {

std::string read_first_line(const std::string& path) {
  if (path == "-") {
    throw Error("-: the header of standard input cannot be read ahead of its data; give the "
                "column names in the schema");
  }
  const std::unique_ptr<data::InputStream> in = data::InputStream::open(path);
  std::string text(kMaxLineBytes + 2, '\0');
  text.resize(in->read_full(text.data(), text.size()));
  if (text.empty()) throw Error(path + ": empty file (no lines)");
  if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
  const size_t nl = text.find('\n');
  if (nl == std::string::npos && text.size() > kMaxLineBytes) {
    throw Error(fmt::format("{}: line 1 is longer than {} bytes", path, kMaxLineBytes));
  }
  std::string line = text.substr(0, nl == std::string::npos ? text.size() : nl);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::vector<std::string> split_header(const std::string& line, char delimiter) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    const size_t d = line.find(delimiter, at);
    out.push_back(line.substr(at, d == std::string::npos ? std::string::npos : d - at));
    if (d == std::string::npos) return out;
    at = d + 1;
  }
}

}  // namespace shadowsync
