// compute_file_stats: the files of `shadowsync stats` read one after another into one
// StatsAccumulator: caches through their memory map, text as a stream, never a whole file in
// memory.
#include <chrono>
#include <memory>

#include "input_stream.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/data_stats.hpp"
#include "shadowsync/data/dataset.hpp"
#include "stream_parse.hpp"

namespace shadowsync::data {

FileStats compute_file_stats(const std::vector<std::string>& paths, const ParseOptions& options,
                             const OpeningFile& opening) {
  if (paths.empty()) throw Error("data statistics: no file given");
  refuse_repeated_inputs(paths);
  FileStats out;
  out.all_caches = true;
  StatsAccumulator accumulator(options.schema, options.hashing);
  for (size_t index = 0; index < paths.size(); ++index) {
    const std::string& path = paths[index];
    if (opening) opening(index, paths.size(), path);
    ParseReport file;
    if (has_cache_magic(path)) {
      const MappedCache cache = MappedCache::open(path, options.hashing);
      file.file = path;
      file.rows = file.lines = cache.rows();
      file.numeric_missing = cache.numeric_missing();
      accumulator.add(cache.view());
    } else {
      out.all_caches = false;
      const auto started = std::chrono::steady_clock::now();
      const std::unique_ptr<InputStream> in = InputStream::open(path);
      parse_criteo_stream(*in, options, [&](const DataView& rows, uint64_t) { accumulator.add(rows); }, &file);
      file.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    }
    if (paths.size() == 1) {
      out.report = file;  // one file: its own report (header, compression)
    } else {
      out.report.add_file(file);
    }
    out.files.push_back(std::move(file));
  }
  out.stats = accumulator.finish(out.report.numeric_missing);
  return out;
}

}  // namespace shadowsync::data
