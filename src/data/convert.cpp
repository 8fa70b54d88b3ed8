// convert_to_cache: stream every input through the stream parser into one CacheWriter.
#include "shadowsync/data/convert.hpp"

#include <memory>

#include "input_stream.hpp"
#include "stream_parse.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"

namespace shadowsync {

ConvertReport convert_to_cache(const std::vector<std::string>& inputs, const std::string& out,
                               const ParseOptions& options,
                               const std::function<void(const ParseReport&)>& file_done) {
  if (inputs.empty()) throw Error(out + ": no input to convert");
  for (const std::string& in : inputs) {
    if (has_cache_magic(in)) {
      throw Error(in + ": already a binary cache; convert reads Criteo TSV text");
    }
  }
  CacheWriter writer(out, options.hashing);
  ConvertReport report;
  std::array<uint64_t, kNumNumeric> missing{};
  for (const std::string& path : inputs) {
    const std::unique_ptr<data::InputStream> in = data::InputStream::open(path);
    ParseReport file;
    data::parse_criteo_stream(*in, options, [&](const DataView& rows) { writer.append(rows); },
                              &file);
    for (int j = 0; j < kNumNumeric; ++j) missing[j] += file.numeric_missing[j];
    if (file_done) file_done(file);
    report.files.push_back(std::move(file));
  }
  writer.commit(missing);
  report.rows = writer.rows();
  return report;
}

}  // namespace shadowsync
