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
//  - The teacher on any rows: the summary's seed is all that is needed to make any row range
//    again (its chunks only), so score_synthetic_teacher() gives the teacher's log loss and NE on
//    exactly the rows a model is evaluated on (e.g. the held-out tail), comparable with the
//    model's NE on them; the whole-file figure of the summary is not.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
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

// The teacher's quality on some rows of generated data.
struct TeacherScore {
  uint64_t first_row = 0;  // row index in the generated file
  uint64_t rows = 0;
  uint64_t positives = 0;
  double logloss = 0;  // mean log loss of the teacher's logits on these rows' labels
  // logloss / entropy of these rows' positive rate (as BinaryMetrics::ne on the same rows); NaN
  // when every label is the same.
  double ne = 0;
};

// The teacher's score on rows [first_row, first_row + labels.size()) of the file that
// generate_synthetic_criteo() writes with `seed` (for any options.rows covering them): the chunks
// holding those rows are made again (in parallel; sums in row order, so the result does not
// depend on the thread count), nothing else. `labels` are those rows' labels as read back (0 or
// 1); each must equal the regenerated one, else Error naming the first row (in file numbering)
// that differs: then the data is not that generated file, or rows were skipped or reordered.
// Empty `labels`: a score of 0 rows with NaN log loss and NE.
TeacherScore score_synthetic_teacher(uint64_t seed, uint64_t first_row, std::span<const float> labels);

// The summary that `gen` wrote for a data file: `data_path`.json, else (a cache converted from the
// TSV, e.g. X.bin) the path without its last extension + ".tsv.json". nullopt when neither file
// exists. Error when the one found cannot be read (read_synthetic_summary) or describes another
// number of rows than `data_rows` (message names the summary and both counts).
struct FoundSyntheticSummary {
  std::string path;
  SyntheticSummary summary;
};
std::optional<FoundSyntheticSummary> find_synthetic_summary(const std::string& data_path, uint64_t data_rows);

// The teacher's score on rows [first_row, first_row + labels.size()) of the data file
// `data_path` of `data_rows` rows, when `gen` made it: find_synthetic_summary(), then
// score_synthetic_teacher() with its seed. nullopt when the file has no summary; Error as those
// two (a summary that does not describe the file).
std::optional<TeacherScore> score_teacher_for_data(const std::string& data_path, uint64_t data_rows,
                                                   uint64_t first_row, std::span<const float> labels);

}  // namespace shadowsync
