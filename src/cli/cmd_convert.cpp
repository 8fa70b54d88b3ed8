// `shadowsync convert IN.tsv OUT`: parses a raw Criteo TSV in parallel, prints the parse summary
// (rows, bad lines, first errors, MB/s) and writes the binary cache atomically.
#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "commands.hpp"
#include "shadowsync/binary_cache.hpp"
#include "shadowsync/criteo_reader.hpp"
#include "shadowsync/error.hpp"

namespace shadowsync::cli {

void add_convert_command(CLI::App& app) {
  struct Args {
    std::string in, out;
    uint32_t rows_per_table = HashingConfig::kDefaultRowsPerTable;
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
  cmd->add_option("--rows-per-table", args->rows_per_table,
                  "rows of every embedding table (row 0 = missing)")
      ->check(non_negative)
      ->check(CLI::Range(uint32_t{2}, UINT32_MAX))
      ->capture_default_str();
  cmd->add_option("--hash-salt", args->salt, "salt mixed into every categorical hash")
      ->check(non_negative)
      ->capture_default_str();
  cmd->add_flag("--strict", args->strict, "stop at the first bad line instead of skipping it");
  cmd->callback([args] {
    if (has_cache_magic(args->in)) {
      throw Error(args->in + ": already a binary cache; convert reads Criteo TSV text");
    }
    std::error_code ec;
    if (std::filesystem::equivalent(args->in, args->out, ec)) {
      throw Error(args->out + ": OUT is the same file as IN; choose another output path");
    }
    ParseOptions options;
    options.hashing = HashingConfig::uniform(args->rows_per_table, args->salt);
    options.strict = args->strict;
    ParseReport report;
    const DataBlock block = parse_criteo_file(args->in, options, &report);
    fmt::print("{}\n", report.summary());
    const double mb = static_cast<double>(report.bytes) / 1e6;
    fmt::print("parsed {:.1f} MB in {:.2f} s ({:.0f} MB/s)\n", mb, report.seconds,
               report.seconds > 0 ? mb / report.seconds : 0.0);
    write_cache(args->out, block.view(), options.hashing, report.dense_missing);
    fmt::print("wrote {} rows to {} (rows per table {}, salt {})\n", block.rows(), args->out,
               args->rows_per_table, args->salt);
  });
}

}  // namespace shadowsync::cli
