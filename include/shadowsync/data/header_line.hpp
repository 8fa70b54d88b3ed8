// The first line of a data file, for front ends that build a schema from a header (column names)
// before reading the data: plain text, gzip or zstd (told by magic bytes, as the readers do).
#pragma once

#include <string>
#include <vector>

namespace shadowsync {

// Line 1 of `path` without its line ending ("\n" or "\r\n") and without a UTF-8 byte order mark;
// the whole text when it has no newline. Reads at most the first kMaxLineBytes (64 KiB) of
// decompressed text: a longer line 1 is an Error naming the file, as are a missing, unreadable or
// empty file and corrupt compressed data. "-" (standard input) is refused: reading it would
// consume the data.
std::string read_first_line(const std::string& path);

// `line` split at `delimiter` ("a\tb\t" -> {"a", "b", ""}).
std::vector<std::string> split_header(const std::string& line, char delimiter);

}  // namespace shadowsync
