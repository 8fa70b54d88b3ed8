// convert_to_cache: the work of `shadowsync convert`: several Criteo inputs (TSV text, gzip or
// zstd compressed, "-" for standard input, FIFOs) read in the given order as streams into one
// binary cache of options.schema, with bounded memory (see docs/data.md): two stream buffers, the rows of one buffer
// (CacheWriter writes them in place), whatever the input size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shadowsync/data/criteo_reader.hpp"

namespace shadowsync {

// Where a conversion is: called when each file starts (bytes and rows 0) and after each stream
// buffer of it is written.
struct ConvertProgress {
  size_t file = 0;         // 0-based index of the file being read
  size_t files = 0;        // number of files (folders expanded)
  std::string path;        // the file being read
  uint64_t bytes = 0;      // decompressed bytes of it parsed so far
  uint64_t rows = 0;       // rows of it written so far
  uint64_t total_rows = 0; // rows of every file written so far
};

struct ConvertReport {
  std::vector<ParseReport> files;  // one per input, in order
  uint64_t rows = 0;               // rows written
};

// Converts `inputs` (in order; a folder stands for its regular, non-hidden files in name order)
// into the cache `out` (written atomically: a failure in any input
// leaves no cache and no temporary behind). An input that is a binary cache is an Error. Each
// file's report goes to `file_done` (if set) as soon as that file is parsed; `progress` (if set)
// is told which file is read and how far it is (calls come one at a time, not always from the
// calling thread).
ConvertReport convert_to_cache(const std::vector<std::string>& inputs, const std::string& out,
                               const ParseOptions& options,
                               const std::function<void(const ParseReport&)>& file_done = {},
                               const std::function<void(const ConvertProgress&)>& progress = {});

}  // namespace shadowsync
