// InputStream (private to src/data): the one byte-input layer of the data readers. Opens a data
// path ("-" = standard input, a regular file, a FIFO or character device read as a stream),
// detects compression by magic bytes (never by name: gzip, including multi-member files, and
// zstd, including several frames) and hands out the decompressed bytes in order through read().
// Memory: one fixed input buffer (kInputBufferBytes) plus the decoder's state (zlib's 32 KiB
// window, zstd's window of at most 128 MiB, as the zstd format allows); never the whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace shadowsync::data {

enum class Compression { kNone, kGzip, kZstd };

// "gzip", "zstd" or "uncompressed".
const char* compression_name(Compression c);

// The compression the first bytes of a file announce (gzip 1f 8b, zstd 28 b5 2f fd or a zstd
// skippable frame 5? 2a 4d 18, as `pzstd` writes first).
Compression detect_compression(std::string_view first_bytes);

// True when `path` is a regular file that does not start with a compression magic: the readers
// mmap such a file (fastest) and read everything else ("-", FIFOs, compressed) as a stream.
// False also for a path that cannot be opened (the stream opener then says why).
bool is_mappable_text(const std::string& path);

inline constexpr size_t kInputBufferBytes = size_t{1} << 20;

class InputStream {
 public:
  // Opens `path` ("-" = standard input, named "<stdin>" in messages). A directory, a missing or
  // unreadable file is an Error naming it. A FIFO is opened like `cat` does (waits for a writer).
  static std::unique_ptr<InputStream> open(const std::string& path);
  // Reads `bytes` (kept by the caller, must outlive the stream); `name` is used in messages.
  static std::unique_ptr<InputStream> from_memory(std::string_view bytes, std::string name);

  ~InputStream();
  InputStream(const InputStream&) = delete;
  InputStream& operator=(const InputStream&) = delete;

  // Up to `n` (>= 1) decompressed bytes into `buf`; returns 0 only at the end of the data. A
  // corrupt or truncated compressed stream throws Error("name: corrupt gzip data at compressed
  // offset N: reason") / Error("name: truncated zstd data: the file ends at compressed offset N
  // inside a frame"); a read failure throws Error naming the file.
  size_t read(char* buf, size_t n);
  // Fills `buf` with up to `n` bytes, stopping early only at the end of the data.
  size_t read_full(char* buf, size_t n);

  Compression compression() const { return compression_; }
  const std::string& name() const { return name_; }
  // Bytes of the underlying file consumed by the decoder so far.
  uint64_t compressed_offset() const { return consumed_ - (in_end_ - in_pos_); }
  // Decompressed bytes handed out by read() so far.
  uint64_t bytes_read() const { return bytes_out_; }

 private:
  InputStream() = default;
  void start();             // sniffs the magic, sets up the decoder
  size_t refill();          // reads more source bytes into the input buffer; 0 at its end
  size_t read_source(char* buf, size_t n);
  size_t read_plain(char* buf, size_t n);
  size_t read_gzip(char* buf, size_t n);
  size_t read_zstd(char* buf, size_t n);
  [[noreturn]] void corrupt(const std::string& reason) const;

  std::string name_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string_view memory_;  // source bytes when fd_ < 0
  size_t memory_pos_ = 0;
  std::unique_ptr<char[]> in_;  // input buffer: [in_pos_, in_end_) not yet consumed
  size_t in_pos_ = 0, in_end_ = 0;
  uint64_t consumed_ = 0;
  uint64_t bytes_out_ = 0;  // source bytes read into the buffer so far
  bool source_done_ = false;
  Compression compression_ = Compression::kNone;
  struct Decoder;
  std::unique_ptr<Decoder> decoder_;
  bool member_open_ = false;  // inside a gzip member / zstd frame (its end not seen yet)
};

}  // namespace shadowsync::data
