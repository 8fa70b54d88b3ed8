// Synthetic Criteo-format data with a known optimum: rows in the raw Criteo TSV format whose
// labels are drawn from a planted "teacher" model with feature interactions, plus a JSON
// summary with the teacher's own log loss and NE on those labels (the floor a model can reach).
//
// Contract:
//  - generate_synthetic_criteo() writes options.rows lines of exactly the raw Criteo TSV
//    format (label 0/1, 13 integers, 26 categoricals of 8 lowercase hex digits; empty cells for
//    missing values; tab separated; '\n' line ends) to out_path, and the summary as JSON to
//    out_path + ".json"; it returns the summary. Same (rows, seed) -> same bytes, whatever the
//    number of threads: rows are made in fixed chunks of kSyntheticChunkRows, each with its own
//    random stream derived from (seed, chunk index), and written in chunk order; so the first
//    n rows do not depend on options.rows either. Both files are written atomically
//    (AtomicFileWriter): a failed write (full disk) leaves the old files untouched and no
//    partial file. The old summary is removed just before the new data replaces the old one
//    and the new summary is written last, so a summary next to a data file describes it.
//  - Content (src/synthetic/schema.hpp, teacher.hpp): Zipf-distributed categorical ids with the
//    Criteo Kaggle cardinalities (3 to ~10M) and Criteo-like missing rates, heavy-tailed
//    non-negative integers with some -1/-2/-3 and missing cells; labels Bernoulli(sigmoid(
//    teacher logit)), the teacher's bias calibrated for a positive rate of about 25 %.
//  - Errors (shadowsync::Error): rows == 0 or > kSyntheticMaxRows; out_path or its .json not writable (message names
//    the file). read_synthetic_summary(): file missing, not JSON, or a field missing / of the
//    wrong type (message names the file and the field).
#pragma once

#include <cstdint>
#include <string>

namespace shadowsync {

inline constexpr uint64_t kSyntheticChunkRows = 4096;
inline constexpr uint64_t kSyntheticMaxRows = uint64_t{1} << 40;

struct SyntheticOptions {
  uint64_t rows = 100000;
  uint64_t seed = 1;
};

struct SyntheticSummary {
  uint64_t rows = 0;
  uint64_t seed = 0;
  double positive_rate = 0;    // fraction of label 1
  double teacher_logloss = 0;  // mean log loss of the teacher's logits on the written labels
  // teacher_logloss / entropy of positive_rate; NaN (null in the JSON, "undefined" in the CLI)
  // when every label is the same (e.g. a single row), where NE is undefined.
  double teacher_ne = 0;
};

SyntheticSummary generate_synthetic_criteo(const SyntheticOptions& options,
                                           const std::string& out_path);

SyntheticSummary read_synthetic_summary(const std::string& json_path);

}  // namespace shadowsync
