// Output files that never lose what was there before, and the check that an output is not one
// of the inputs.
//
// AtomicFileWriter contract: bytes go to a temporary file in the destination's folder whose name
// is unique to this writer (PATH.tmp.<pid>.<counter>), so two writers of the same PATH never
// share a temporary. commit() flushes, fsyncs the file, renames it over PATH and fsyncs the
// folder: after a crash PATH holds either the old or the new content, never a mix. A writer
// destroyed without commit() removes its temporary and leaves PATH untouched. Every failure
// throws Error naming PATH and what failed (the OS's reason included).
//
// Temporaries never outlive their writer where the process can act: each open temporary is
// listed (in fixed storage) so that a front end's SIGINT / SIGTERM handler can remove them with
// remove_pending_temporaries() (async-signal-safe) before the process dies; and a writer first
// removes the stale temporaries of the same PATH left by processes that died without cleaning
// up (kill -9, power loss): PATH.tmp.<pid>.<n> whose <pid> no longer exists (kill(pid, 0) fails
// with ESRCH). Another live process's temporaries, and this process's, are never touched.
//
// Outputs that are not regular files (a FIFO, a character device such as /dev/stdout, a
// terminal) cannot be replaced atomically and must not be replaced at all: open_output() writes
// through to them, and uses an AtomicFileWriter for regular files and new paths. A symbolic link
// stays a link: the file it points to is the one replaced atomically.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shadowsync {

class AtomicFileWriter {
 public:
  // Creates the temporary file. Throws Error naming `path` when it cannot.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();  // removes the temporary unless commit() succeeded
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Writes at an absolute offset of the temporary (e.g. to patch a count in a header).
  void write_at(size_t offset, const void* data, size_t bytes);
  // fsync, rename over the destination, fsync the folder.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  size_t bytes_written() const { return written_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  size_t written_ = 0;
  bool committed_ = false;
  int pending_slot_ = -1;  // its entry in the list remove_pending_temporaries() reads
};

// Removes PATH.tmp.<pid>.<n> files beside `path` whose process <pid> no longer exists (not this
// process, not a live one); returns how many were removed. Best effort: a folder that cannot be
// listed or a file that cannot be removed is left as it is.
size_t remove_stale_temporaries(const std::string& path);

// Removes the temporaries of every AtomicFileWriter not yet committed or destroyed. Only
// async-signal-safe calls (unlink): for a signal handler of a front end that then ends the
// process (the writers' destructors will not run).
void remove_pending_temporaries() noexcept;

// An output stream: standard output ("-"), a non-regular file written through, or a regular
// file written atomically. commit() finishes it (for standard output: flush only).
class OutputFile {
 public:
  static std::unique_ptr<OutputFile> open(const std::string& path);
  virtual ~OutputFile() = default;
  virtual void write(std::string_view text) = 0;
  virtual void commit() = 0;
  // How the destination is named in messages ("standard output" for "-").
  virtual std::string name() const = 0;
};

// True when both paths exist and are the same file (same device and inode, so hard links and
// symbolic links count too).
bool same_file(const std::string& a, const std::string& b);

// Throws Error when `output` is the same file as one of `inputs`. Each entry names what the
// path is for (e.g. "--data"), so the message names both sides:
//   "--metrics 'x.bin' is the same file as --data 'x.bin'; writing it would destroy that input"
void refuse_output_over_input(std::string_view output_name, const std::string& output,
                              const std::vector<std::pair<std::string_view, std::string>>& inputs);

}  // namespace shadowsync
