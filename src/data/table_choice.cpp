// The hashing rule of every front end (see table_choice.hpp).
#include "shadowsync/data/table_choice.hpp"

#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/data_stats.hpp"

namespace shadowsync::data {
namespace {

// A file that a second pass can read again: a regular file (not "-", a FIFO or a device).
bool readable_twice(const std::string& path) {
  struct stat st{};
  return path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

HashingChoice choose_hashing(const std::vector<std::string>& paths, std::optional<uint64_t> rows_per_table,
                             uint64_t salt, const ParseOptions& reading, const OpeningFile& opening) {
  const int tables = reading.schema.table_count();  // one per table of the schema
  const HashingConfig fallback = HashingConfig::uniform(HashingConfig::kDefaultRowsPerTable, salt, tables);
  if (rows_per_table) {
    return {HashingConfig::uniform(checked_rows_per_table(*rows_per_table), salt, tables),
            HashingChoice::Source::Given};
  }
  for (const std::string& path : paths) {
    if (std::optional<HashingConfig> stored = read_cache_hashing(path)) {
      if (salt != 0 && stored->salt != salt) return {fallback, HashingChoice::Source::Default};
      return {*stored, HashingChoice::Source::Cache};
    }
  }
  if (paths.empty()) return {fallback, HashingChoice::Source::Default};
  if (!std::all_of(paths.begin(), paths.end(), readable_twice)) return {fallback, HashingChoice::Source::Default};
  ParseOptions options = reading;
  options.hashing = fallback;
  const FileStats counted = compute_file_stats(paths, options, opening);
  std::vector<uint64_t> used(counted.stats.sparse.size());
  for (size_t t = 0; t < used.size(); ++t) used[t] = counted.stats.sparse[t].distinct_rows;
  return {tables_sized_for(used, fallback), HashingChoice::Source::SizedToData};
}

std::string hashing_choice_text(const HashingChoice& choice) {
  if (choice.hashing.rows.empty()) return choice.source == HashingChoice::Source::Given ? "" : "no tables (no categorical column)";
  const auto [low, high] = std::minmax_element(choice.hashing.rows.begin(), choice.hashing.rows.end());
  switch (choice.source) {
    case HashingChoice::Source::Given:
      return "";
    case HashingChoice::Source::Cache:
      return fmt::format("tables as the cache was hashed: {} to {} rows", *low, *high);
    case HashingChoice::Source::SizedToData:
      return fmt::format("tables sized to the data: {} to {} rows (at most the default {}; twice the rows each table "
                         "uses, rounded up to a power of two)",
                         *low, *high, HashingConfig::kDefaultRowsPerTable);
    case HashingChoice::Source::Default:
      return fmt::format("tables of the default {} rows (the input is read once, so it cannot be measured first)",
                         HashingConfig::kDefaultRowsPerTable);
  }
  return "";
}

}  // namespace shadowsync::data
