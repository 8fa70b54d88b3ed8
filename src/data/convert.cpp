// convert_to_cache: stream every input through the stream parser into one CacheWriter.
#include "shadowsync/data/convert.hpp"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "input_stream.hpp"
#include "stream_parse.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/dataset.hpp"

namespace shadowsync {
namespace {

// Inputs with every directory replaced by its regular files (not hidden ones), in name order.
std::vector<std::string> expand_directories(const std::vector<std::string>& inputs) {
  std::vector<std::string> out;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (in == "-" || !std::filesystem::is_directory(in, ec)) {
      out.push_back(in);
      continue;
    }
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(in, ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with('.') && entry.is_regular_file(ec)) files.push_back(entry.path().string());
    }
    if (ec) throw Error(in + ": cannot list the folder: " + ec.message());
    if (files.empty()) throw Error(in + ": folder without data files");
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

}  // namespace

ConvertReport convert_to_cache(const std::vector<std::string>& given, const std::string& out,
                               const ParseOptions& options,
                               const std::function<void(const ParseReport&)>& file_done,
                               const std::function<void(const ConvertProgress&)>& progress) {
  if (given.empty()) throw Error(out + ": no input to convert");
  const std::vector<std::string> inputs = expand_directories(given);
  refuse_repeated_inputs(inputs);
  for (const std::string& in : inputs) {
    if (has_cache_magic(in)) {
      throw Error(in + ": already a binary cache; convert reads Criteo TSV text");
    }
  }
  // The first input is opened (a FIFO waits for its writer here) before the cache's temporary
  // is created: an input that cannot be opened, or a stop while waiting, leaves nothing behind.
  ConvertProgress where;
  where.files = inputs.size();
  where.path = inputs.front();
  if (progress) progress(where);
  std::unique_ptr<data::InputStream> first = data::InputStream::open(inputs.front());
  CacheWriter writer(out, options.hashing, options.schema);
  ConvertReport report;
  std::vector<uint64_t> missing(size_t(options.schema.numeric_count()), 0);
  for (const std::string& path : inputs) {
    where.path = path;
    where.bytes = where.rows = 0;
    if (where.file > 0 && progress) progress(where);
    const std::unique_ptr<data::InputStream> in =
        where.file == 0 ? std::move(first) : data::InputStream::open(path);
    ParseReport file;
    data::parse_criteo_stream(
        *in, options,
        [&](const DataView& rows, uint64_t bytes) {
          writer.append(rows);
          where.bytes = bytes;
          where.rows += rows.rows;
          where.total_rows = writer.rows();
          if (progress) progress(where);
        },
        &file);
    ++where.file;
    for (size_t j = 0; j < missing.size() && j < file.numeric_missing.size(); ++j) missing[j] += file.numeric_missing[j];
    if (file_done) file_done(file);
    report.files.push_back(std::move(file));
  }
  writer.commit(missing);
  report.rows = writer.rows();
  return report;
}

}  // namespace shadowsync
