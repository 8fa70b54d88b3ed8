// A generated Criteo data set held in memory for the engine tests: rows from the synthetic
// generator (written to a temporary TSV, parsed into a Dataset, the file removed), split into a
// training head and an evaluation tail, and the generator's summary (the teacher's NE).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>

#include "shadowsync/data/dataset.hpp"
#include "shadowsync/synthetic/synthetic.hpp"
#include "temp_paths.hpp"

namespace shadowsync::test {

struct GeneratedData {
  SyntheticSummary summary;
  std::unique_ptr<Dataset> dataset;
  DataView train, eval;  // the last eval_fraction of the rows is eval
};

// `rows` rows of seed `seed` hashed with `hashing`; `prefix` names the temporary file.
inline GeneratedData generate_dataset(const std::string& prefix, uint64_t rows, uint64_t seed,
                                      const HashingConfig& hashing, double eval_fraction) {
  GeneratedData out;
  const std::string tsv = temp_path_for(prefix, "data" + std::to_string(seed) + ".tsv");
  SyntheticOptions options;
  options.rows = rows;
  options.seed = seed;
  out.summary = generate_synthetic_criteo(options, tsv);
  ParseOptions parse;
  parse.hashing = hashing;
  out.dataset = std::make_unique<Dataset>(Dataset::open(tsv, parse));
  std::remove(tsv.c_str());
  std::remove((tsv + ".json").c_str());
  if (eval_fraction == 0) {  // every row trains (split_eval_tail takes fractions in (0, 1) only)
    out.train = out.dataset->view();
  } else {
    std::tie(out.train, out.eval) = split_eval_tail(out.dataset->view(), eval_fraction);
  }
  return out;
}

}  // namespace shadowsync::test
