// `shadowsync stats FILE`: statistics of a Criteo TSV or binary cache: rows, positive rate, per
// numeric feature the missing share / mean / max of the transformed values, per categorical table
// the missing share and the distinct hashed rows used. --json prints the same as one object.
#include <algorithm>
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shadowsync/data/data_stats.hpp"
#include "commands.hpp"
#include "common_options.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/core/error.hpp"

namespace shadowsync::cli {
namespace {

nlohmann::ordered_json to_json(const data::FileStats& files, const HashingConfig& hashing) {
  const ParseReport& report = files.report;
  const data::DataStats& stats = files.stats;
  nlohmann::ordered_json j;
  j["file"] = report.file;
  j["format"] = files.all_caches ? "cache" : "tsv";
  j["rows"] = stats.rows;
  j["lines"] = report.lines;
  j["bad_lines"] = report.bad_lines;
  j["positive_rate"] = stats.positive_rate;
  j["hashing"] = {{"rows_per_table", hashing.rows}, {"salt", hashing.salt}};
  j["dense"] = nlohmann::ordered_json::array();
  for (size_t f = 0; f < stats.numeric.size(); ++f) {
    const data::NumericColumnStats& d = stats.numeric[f];
    j["dense"].push_back({{"name", stats.numeric_names.at(f)},
                          {"missing_share", d.missing_share ? nlohmann::ordered_json(*d.missing_share)
                                                            : nlohmann::ordered_json(nullptr)},
                          {"mean", d.mean},
                          {"max", d.max}});
  }
  j["sparse"] = nlohmann::ordered_json::array();
  for (size_t t = 0; t < stats.sparse.size(); ++t) {
    const data::SparseColumnStats& s = stats.sparse[t];
    j["sparse"].push_back({{"name", stats.table_names.at(t)},
                           {"missing_share", s.missing_share},
                           {"distinct_rows", s.distinct_rows},
                           {"table_rows", hashing.rows[t]},
                           {"used_share", s.used_share}});
  }
  return j;
}

void print_text(const data::FileStats& files) {
  const ParseReport& report = files.report;
  const data::DataStats& stats = files.stats;
  if (files.all_caches) {
    fmt::print("{}: binary cache, {} rows\n", report.file, stats.rows);
  } else {
    fmt::print("{}\n", report.summary());
  }
  fmt::print("positive rate {:.4f}\n\n", stats.positive_rate);
  // The name column as wide as the longest name (6 for Criteo's I1..C26).
  size_t width = 6;
  for (const auto& name : stats.numeric_names) width = std::max(width, name.size());
  for (const auto& name : stats.table_names) width = std::max(width, name.size());
  fmt::print("{:<{}} {:>8} {:>10} {:>10}\n", "dense", width, "missing", "mean", "max");
  for (size_t f = 0; f < stats.numeric.size(); ++f) {
    const data::NumericColumnStats& d = stats.numeric[f];
    fmt::print("{:<{}} {:>8} {:>10.4f} {:>10.4f}\n", stats.numeric_names.at(f), width,
               d.missing_share ? fmt::format("{:.4f}", *d.missing_share) : std::string("?"),
               d.mean, d.max);
  }
  fmt::print("\n{:<{}} {:>8} {:>14} {:>10}\n", "table", width, "missing", "distinct rows", "used");
  for (size_t t = 0; t < stats.sparse.size(); ++t) {
    const data::SparseColumnStats& s = stats.sparse[t];
    fmt::print("{:<{}} {:>8.4f} {:>14} {:>10.4f}\n", stats.table_names.at(t), width, s.missing_share,
               s.distinct_rows, s.used_share);
  }
}

// The hashing to read FILE with: a cache's own (like train and eval), with --rows-per-table /
// --hash-salt replacing its parts when given (then opening the cache checks that they agree);
// for a TSV the options or their defaults.
HashingConfig resolve_hashing(const std::string& file, const FeatureSchema& schema, const std::optional<uint64_t>& rows,
                              const std::optional<uint64_t>& salt) {
  HashingConfig hashing = hashing_for(schema, HashingConfig::kDefaultRowsPerTable, 0);
  if (std::optional<HashingConfig> stored = read_cache_hashing(file)) hashing = *stored;
  if (rows) std::fill(hashing.rows.begin(), hashing.rows.end(), checked_rows_per_table(*rows));
  if (salt) hashing.salt = *salt;
  return hashing;
}
}  // namespace

void add_stats_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;
    std::optional<uint64_t> rows_per_table;
    std::optional<uint64_t> salt;
    bool json = false;
    char delimiter = '\t';
    SchemaRequest schema;
  };
  auto args = std::make_shared<Args>();
  const auto non_negative = [](const std::string& value) {
    return value.starts_with('-') ? std::string("must be a non-negative integer") : std::string();
  };
  CLI::App* cmd = app.add_subcommand(
      "stats", "Print statistics of a Criteo TSV file or binary cache (per feature and table)");
  cmd->add_option("FILES", args->files,
                  "Criteo TSV files (plain, gzip or zstd; - = standard input) or binary caches, "
                  "summarized together")
      ->required();
  add_rows_per_table(*cmd, args->rows_per_table,
                     fmt::format("rows of every embedding table; default: a cache's own, else {}",
                                 HashingConfig::kDefaultRowsPerTable));
  cmd->add_option("--hash-salt", args->salt, "hash salt; default: a cache's own, else 0")
      ->check(non_negative);
  cmd->add_flag("--json", args->json, "print one JSON object instead of tables");
  add_delimiter(*cmd, args->delimiter);
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] {
    ParseOptions options;
    options.schema = schema_for_paths(args->schema, args->files, args->delimiter);
    options.hashing = resolve_hashing(args->files.front(), options.schema, args->rows_per_table, args->salt);
    options.delimiter = args->delimiter;
    // Text is streamed and caches are mapped: memory stays bounded whatever the files' size.
    const data::FileStats files = data::compute_file_stats(args->files, options, print_reading_file(false));
    if (args->json) {
      fmt::print("{}\n", to_json(files, options.hashing).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      print_text(files);
    }
  });
}

}  // namespace shadowsync::cli
