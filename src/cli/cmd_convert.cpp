// `shadowsync convert IN... OUT`: parses Criteo TSV inputs (plain, gzip, zstd, - for stdin) in
// order into one binary cache (convert_to_cache, bounded memory), printing each file's summary
// (rows, bad lines, first errors, MB/s), and writes the cache atomically. --table-rows-from sizes
// each table from `stats --json` of the same data.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <cstdint>
#include <new>
#include <optional>
#include <memory>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


#include "cleanup_signals.hpp"
#include "commands.hpp"
#include "common_options.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/convert.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/data/hashing.hpp"
#include "shadowsync/data/table_sizes.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"

namespace shadowsync::cli {

namespace {

// The table sizes `--table-rows-from` asks for (data/table_sizes.hpp), its errors named by the
// option: "--table-rows-from 'stats.json': field 'sparse[3].distinct_rows' must be ...".
HashingConfig tables_sized_from_stats(const std::string& path) {
  try {
    return tables_sized_from_stats_file(path);
  } catch (const Error& e) {
    throw Error(std::string("--table-rows-from ") + e.what() + " (it takes what `shadowsync stats --json` writes)");
  }
}

}  // namespace

void add_convert_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> files;  // IN... OUT
    std::optional<uint64_t> rows_per_table;
    std::string table_rows_from;  // a `stats --json` file
    uint64_t salt = 0;
    bool strict = false;
    char delimiter = '\t';
    SchemaRequest schema;
  };
  auto args = std::make_shared<Args>();
  const auto non_negative = [](const std::string& value) {
    return value.starts_with('-') ? std::string("must be a non-negative integer") : std::string();
  };
  CLI::App* cmd = app.add_subcommand(
      "convert", "Parse text data (Criteo TSV by default) and write a binary cache of the hashed, transformed rows "
                 "and their schema");
  cmd->add_option("FILES", args->files,
                  "IN... OUT: text inputs (Criteo's label, I1..I13, C1..C26 unless the columns are stated; plain, gzip or zstd; "
                  "- = standard input; a folder = its files by name), read in order, then the "
                  "binary cache to write (replaced atomically)")
      ->required()
      ->expected(2, -1);
  add_rows_per_table(*cmd, args->rows_per_table,
                     fmt::format("rows of every embedding table (row 0 = missing), default {}",
                                 HashingConfig::kDefaultRowsPerTable));
  cmd->add_option("--table-rows-from", args->table_rows_from,
                  "size each embedding table from `shadowsync stats --json` of the same data (FILE): the "
                  "smallest power of two >= 2 x its used rows, at most the size stats hashed with")
      ->excludes("--rows-per-table");
  cmd->add_option("--hash-salt", args->salt, "salt mixed into every categorical hash")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_flag("--strict", args->strict, "stop at the first bad line instead of skipping it");
  add_delimiter(*cmd, args->delimiter);
  add_schema_options(*cmd, args->schema);
  cmd->callback([args] {
    // SIGINT / SIGTERM remove the cache's temporary and end the process (nothing to save).
    remove_temporaries_on_stop_signals();
    const std::string out = args->files.back();
    const std::vector<std::string> inputs(args->files.begin(), args->files.end() - 1);
    std::vector<std::pair<std::string_view, std::string>> named_inputs;
    for (const std::string& in : inputs) named_inputs.emplace_back("IN", in);
    refuse_output_over_input("OUT", out, named_inputs);
    ParseOptions options;
    options.schema = schema_for_paths(args->schema, inputs, args->delimiter);
    if (args->table_rows_from.empty()) {
      options.hashing = hashing_for(
          options.schema, checked_rows_per_table(args->rows_per_table.value_or(HashingConfig::kDefaultRowsPerTable)),
          args->salt);
    } else {
      refuse_output_over_input("OUT", out, {{"--table-rows-from", args->table_rows_from}});
      options.hashing = tables_sized_from_stats(args->table_rows_from);
      options.hashing.salt = args->salt;
    }
    options.strict = args->strict;
    options.delimiter = args->delimiter;
    // Progress: "reading 2/3: day_1.gz" as each of several files starts, and every 5 s a line
    // naming the file being read and how far it is.
    const auto started = std::chrono::steady_clock::now();
    auto last_line = started;
    const auto progress = [&](const ConvertProgress& p) {
      const auto now = std::chrono::steady_clock::now();
      if (p.bytes == 0 && p.rows == 0) {
        if (p.files > 1) fmt::print("reading {}/{}: {}\n", p.file + 1, p.files, p.path);
      } else if (now - last_line >= std::chrono::seconds(5)) {
        last_line = now;
        fmt::print("{} ({}/{}): {:.1f} MB read, {} rows ({} in all), {:.0f} s\n", p.path,
                   p.file + 1, p.files, static_cast<double>(p.bytes) / 1e6, p.rows, p.total_rows,
                   std::chrono::duration<double>(now - started).count());
      } else {
        return;
      }
      std::fflush(stdout);
    };
    ConvertReport report;
    try {
    report = convert_to_cache(inputs, out, options, [](const ParseReport& r) {
      fmt::print("{}\n", r.summary());
      const double mb = static_cast<double>(r.bytes) / 1e6;
      fmt::print("parsed {:.1f} MB{} in {:.2f} s ({:.0f} MB/s)\n", mb,
                 r.compression.empty() ? std::string()
                                       : fmt::format(" ({:.1f} MB {})", r.compressed_bytes / 1e6,
                                                     r.compression),
                 r.seconds, r.seconds > 0 ? mb / r.seconds : 0.0);
      std::fflush(stdout);
    }, progress);
    } catch (const std::bad_alloc&) {
      throw Error(fmt::format("convert: out of memory while converting into '{}' (about 140 MiB "
                              "are needed, see docs/data.md); raise the memory limit (ulimit -v)",
                              out));
    }
    const auto& rows = options.hashing.rows;
    const bool uniform = std::all_of(rows.begin(), rows.end(), [&](uint32_t r) { return r == rows[0]; });
    uint64_t total_rows = 0;
    for (const uint32_t r : rows) total_rows += r;
    fmt::print("wrote {} rows{} to {} ({}rows per table {}, salt {})\n", report.rows,
               inputs.size() > 1 ? fmt::format(" from {} files", inputs.size()) : std::string(), out,
               options.schema.is_criteo()
                   ? std::string()
                   : fmt::format("{} numeric, {} categorical, {} multi-hot columns; ", options.schema.numeric_count(),
                                 options.schema.categorical_count(), options.schema.multi_hot_count()),
               rows.empty() ? std::string("none") : uniform ? fmt::format("{}", rows[0])
                       : fmt::format("{}: {} in all", fmt::join(rows, " "), total_rows),
               args->salt);
  });
}

}  // namespace shadowsync::cli
