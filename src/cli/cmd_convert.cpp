// `shadowsync convert IN.tsv OUT`: parses a raw Criteo TSV in parallel, prints the parse summary
// (rows, bad lines, first errors, MB/s) and writes the binary cache atomically.
#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <memory>
#include <string>

#include "commands.hpp"
#include "common_options.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/data/criteo_reader.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"

namespace shadowsync::cli {

void add_convert_command(CLI::App& app) {
  struct Args {
    std::string in, out;
    std::optional<uint64_t> rows_per_table;
    uint64_t salt = 0;
    bool strict = false;
  };
  auto args = std::make_shared<Args>();
  const auto non_negative = [](const std::string& value) {
    return value.starts_with('-') ? std::string("must be a non-negative integer") : std::string();
  };
  CLI::App* cmd = app.add_subcommand(
      "convert", "Parse a Criteo TSV file and write a binary cache of the hashed, transformed rows");
  cmd->add_option("IN", args->in, "Criteo TSV file (label, I1..I13, C1..C26)")->required();
  cmd->add_option("OUT", args->out, "binary cache to write (replaced atomically)")->required();
  add_rows_per_table(*cmd, args->rows_per_table,
                     fmt::format("rows of every embedding table (row 0 = missing), default {}",
                                 HashingConfig::kDefaultRowsPerTable));
  cmd->add_option("--hash-salt", args->salt, "salt mixed into every categorical hash")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_flag("--strict", args->strict, "stop at the first bad line instead of skipping it");
  cmd->callback([args] {
    if (has_cache_magic(args->in)) {
      throw Error(args->in + ": already a binary cache; convert reads Criteo TSV text");
    }
    refuse_output_over_input("OUT", args->out, {{"IN", args->in}});
    const uint32_t rows_per_table =
        checked_rows_per_table(args->rows_per_table.value_or(HashingConfig::kDefaultRowsPerTable));
    ParseOptions options;
    options.hashing = HashingConfig::uniform(rows_per_table, args->salt);
    options.strict = args->strict;
    ParseReport report;
    const DataBlock block = parse_criteo_file(args->in, options, &report);
    fmt::print("{}\n", report.summary());
    const double mb = static_cast<double>(report.bytes) / 1e6;
    fmt::print("parsed {:.1f} MB in {:.2f} s ({:.0f} MB/s)\n", mb, report.seconds,
               report.seconds > 0 ? mb / report.seconds : 0.0);
    write_cache(args->out, block.view(), options.hashing, report.numeric_missing);
    fmt::print("wrote {} rows to {} (rows per table {}, salt {})\n", block.rows(), args->out,
               rows_per_table, args->salt);
  });
}

}  // namespace shadowsync::cli
