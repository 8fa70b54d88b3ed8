// `shadowsync gen`: writes synthetic Criteo-format rows from a planted teacher (see
// include/shadowsync/synthetic/synthetic.hpp), or with --schema rows of any feature schema
// (synthetic_schema.hpp), and prints the summary (rows, positive rate, teacher NE).
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <string>

#include "commands.hpp"
#include "shadowsync/core/error.hpp"
#include "common_options.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"

namespace shadowsync::cli {

void add_gen_command(CLI::App& app) {
  struct Args {
    int64_t rows = static_cast<int64_t>(SyntheticOptions{}.rows);  // signed: "-5" is an error
    uint64_t seed = SyntheticOptions{}.seed;
    std::string out;
    std::string schema;  // "": Criteo's generator; "avazu" or a JSON file
    char delimiter = '\t';
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "gen", "Generate synthetic Criteo-format TSV rows with a known optimum (teacher NE)");
  cmd->add_option("--rows", args->rows, "number of rows")->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed (same seed -> same bytes)")
      ->check([](const std::string& value) {
        return value.starts_with('-') ? std::string("must be a non-negative integer") : std::string();
      })
      ->capture_default_str();
  cmd->add_option("--out", args->out, "output TSV file; the summary goes to FILE.json")
      ->required();
  cmd->add_option("--schema", args->schema,
                  "columns of the rows: a schema JSON file (as train --schema reads, or {\"schema\": ..., "
                  "\"columns\": {name: distribution}}), or the preset avazu; default: Criteo's layout");
  CLI::Option* delimiter = add_delimiter(*cmd, args->delimiter);
  cmd->callback([args, delimiter] {
    if (args->rows < 1) throw Error(fmt::format("--rows must be at least 1, got {}", args->rows));
    if (args->out.empty()) throw Error("--out must not be empty");
    const SyntheticOptions options{static_cast<uint64_t>(args->rows), args->seed};
    SyntheticSummary s;
    if (args->schema.empty()) {
      if (delimiter->count() > 0 && args->delimiter != '\t') {
        throw Error("--delimiter: Criteo's layout is tab-separated; give --schema to write other rows");
      }
      s = generate_synthetic_criteo(options, args->out);
    } else {
      SyntheticSpec spec = args->schema == "avazu" ? SyntheticSpec::avazu() : SyntheticSpec::from_file(args->schema);
      if (delimiter->count() > 0) spec.delimiter = args->delimiter;
      spec.validate("--schema " + args->schema);
      if (args->out == args->schema) throw Error("--out is the --schema file");
      s = generate_synthetic(options, spec, args->out);
    }
    fmt::print("wrote {} rows (seed {}) to {} and {}.json\n", s.rows, s.seed, args->out,
               args->out);
    const std::string ne =
        std::isnan(s.teacher_ne)
            ? fmt::format("undefined (all {} rows have label {})", s.rows, s.positive_rate > 0.5 ? 1 : 0)
            : fmt::format("{:.5f}", s.teacher_ne);
    fmt::print("positive rate {:.4f}, teacher log loss {:.5f}, teacher NE {}\n", s.positive_rate,
               s.teacher_logloss, ne);
  });
}

}  // namespace shadowsync::cli
