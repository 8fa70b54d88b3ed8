// convert_to_cache: the work of `shadowsync convert`: several Criteo inputs (TSV text, gzip or
// zstd compressed, "-" for standard input, FIFOs) read in the given order as streams into one
// binary cache, with bounded memory (see docs/data.md): two stream buffers, the rows of one buffer
// and CacheWriter's copy buffer, whatever the input size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "shadowsync/data/criteo_reader.hpp"

namespace shadowsync {

struct ConvertReport {
  std::vector<ParseReport> files;  // one per input, in order
  uint64_t rows = 0;               // rows written
};

// Converts `inputs` (in order; a folder stands for its regular, non-hidden files in name order)
// into the cache `out` (written atomically: a failure in any input
// leaves no cache and no temporary behind). An input that is a binary cache is an Error. Each
// file's report goes to `file_done` (if set) as soon as that file is parsed.
ConvertReport convert_to_cache(const std::vector<std::string>& inputs, const std::string& out,
                               const ParseOptions& options,
                               const std::function<void(const ParseReport&)>& file_done = {});

}  // namespace shadowsync
