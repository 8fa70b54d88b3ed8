// generate_synthetic and the teacher's score for logs of any schema (see
// include/shadowsync/synthetic/synthetic_schema.hpp): chunks made in parallel and written in
// chunk order by the writer Criteo's generator uses too (ordered_chunks.hpp).
#include "shadowsync/synthetic/synthetic_schema.hpp"

#include <tbb/parallel_for.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "ordered_chunks.hpp"
#include "rng.hpp"
#include "schema_rows.hpp"
#include "schema_teacher.hpp"
#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"

namespace shadowsync {
namespace {

constexpr const char* kFormatName = "shadowsync-synthetic";
constexpr int kFormatVersion = 1;

// Makes the rows of chunk `chunk_index` in order, calling on_row(i, row, logit, label): the one
// definition of a chunk's rows, for the file and for the teacher's score.
template <typename OnRow>
void for_each_chunk_row(const synthetic::SchemaRowSampler& sampler, const synthetic::SchemaTeacher& teacher,
                        uint64_t seed, uint64_t chunk_index, uint64_t rows, OnRow&& on_row) {
  synthetic::Rng rng(synthetic::hash_pair(seed, chunk_index));
  synthetic::SchemaRow row;
  for (uint64_t i = 0; i < rows; ++i) {
    sampler.sample(rng, row);
    const double z = teacher.logit(row);
    const int label = rng.uniform() < 1.0 / (1.0 + std::exp(-z)) ? 1 : 0;
    on_row(i, row, z, label);
  }
}

double ne_of(uint64_t positives, uint64_t rows, double logloss) {
  return positives == 0 || positives == rows
             ? std::numeric_limits<double>::quiet_NaN()
             : logloss / binary_entropy(static_cast<double>(positives) / static_cast<double>(rows));
}

}  // namespace

SyntheticSummary generate_synthetic(const SyntheticOptions& options, const SyntheticSpec& spec,
                                    const std::string& out_path) {
  if (options.rows == 0 || options.rows > kSyntheticMaxRows) {
    throw Error(fmt::format("synthetic data: rows must be in [1, {}], got {}", kSyntheticMaxRows, options.rows));
  }
  const synthetic::SchemaRowSampler sampler(spec);
  const synthetic::SchemaTeacher teacher(options.seed, sampler);
  AtomicFileWriter file(out_path);
  if (spec.schema.header) file.write(sampler.header_line());
  const synthetic::GeneratedTotals totals =
      synthetic::write_chunks_in_order(file, options.rows, [&](synthetic::GeneratedChunk& chunk) {
        for_each_chunk_row(sampler, teacher, options.seed, chunk.index, chunk.rows,
                           [&](uint64_t, const synthetic::SchemaRow& row, double z, int label) {
                             chunk.positives += static_cast<uint64_t>(label);
                             chunk.loss_sum += logloss_of_logit(z, label);
                             sampler.append_line(chunk.text, label, row);
                           });
      });
  const uint64_t positives = totals.positives;
  const double loss_sum = totals.loss_sum;
  std::remove((out_path + ".json").c_str());
  file.commit();

  SyntheticSummary summary;
  summary.rows = options.rows;
  summary.seed = options.seed;
  summary.positive_rate = static_cast<double>(positives) / static_cast<double>(options.rows);
  summary.teacher_logloss = loss_sum / static_cast<double>(options.rows);
  summary.teacher_ne = ne_of(positives, options.rows, summary.teacher_logloss);
  const nlohmann::json j = {
      {"format", kFormatName},
      {"version", kFormatVersion},
      {"rows", summary.rows},
      {"seed", summary.seed},
      {"positive_rate", summary.positive_rate},
      {"teacher_logloss", summary.teacher_logloss},
      {"teacher_ne", std::isnan(summary.teacher_ne) ? nlohmann::json(nullptr) : nlohmann::json(summary.teacher_ne)},
      {"teacher_bias", teacher.bias()},
      {"chunk_rows", kSyntheticChunkRows},
      {"spec", spec.to_json()},
  };
  AtomicFileWriter json(out_path + ".json");
  json.write(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  json.commit();
  return summary;
}

std::optional<SyntheticSpec> read_synthetic_spec(const std::string& json_path) {
  read_synthetic_summary(json_path);  // the same checks and messages
  const nlohmann::json j = parse_untrusted_json(read_small_file(json_path, size_t{16} << 20), json_path);
  if (!j.is_object() || !j.contains("spec")) return std::nullopt;
  return SyntheticSpec::from_json(j.at("spec"), json_path + ": spec");
}

std::vector<double> synthetic_teacher_logits(const SyntheticSpec& spec, uint64_t seed, uint64_t first_row,
                                             uint64_t rows) {
  std::vector<double> out(rows);
  if (rows == 0) return out;
  const synthetic::SchemaRowSampler sampler(spec);
  const synthetic::SchemaTeacher teacher(seed, sampler);
  const uint64_t end_row = first_row + rows;
  if (end_row < first_row || end_row > kSyntheticMaxRows) {
    throw Error(fmt::format("synthetic data: rows [{}, {}) are beyond the generator's {} rows", first_row, end_row,
                            kSyntheticMaxRows));
  }
  const uint64_t first_chunk = first_row / kSyntheticChunkRows;
  const uint64_t chunks = (end_row - 1) / kSyntheticChunkRows + 1 - first_chunk;
  tbb::parallel_for(uint64_t{0}, chunks, [&](uint64_t c) {
    const uint64_t chunk = first_chunk + c;
    const uint64_t begin = chunk * kSyntheticChunkRows;
    for_each_chunk_row(sampler, teacher, seed, chunk, std::min(kSyntheticChunkRows, end_row - begin),
                       [&](uint64_t i, const synthetic::SchemaRow&, double z, int) {
                         if (begin + i >= first_row) out[begin + i - first_row] = z;
                       });
  });
  return out;
}

TeacherScore score_synthetic_teacher(const SyntheticSpec& spec, uint64_t seed, uint64_t first_row,
                                     std::span<const float> labels) {
  TeacherScore score;
  score.first_row = first_row;
  score.rows = labels.size();
  if (labels.empty()) {
    score.logloss = score.ne = std::numeric_limits<double>::quiet_NaN();
    return score;
  }
  const synthetic::SchemaRowSampler sampler(spec);
  const synthetic::SchemaTeacher teacher(seed, sampler);
  const uint64_t end_row = first_row + labels.size();
  if (end_row < first_row || end_row > kSyntheticMaxRows) {
    throw Error(fmt::format("synthetic data: rows [{}, {}) are beyond the generator's {} rows", first_row, end_row,
                            kSyntheticMaxRows));
  }
  const uint64_t first_chunk = first_row / kSyntheticChunkRows;
  const uint64_t chunks = (end_row - 1) / kSyntheticChunkRows + 1 - first_chunk;
  struct ChunkScore {
    uint64_t positives = 0;
    double loss_sum = 0;
    uint64_t first_mismatch = std::numeric_limits<uint64_t>::max();
    float found = 0;
    int expected = 0;
  };
  std::vector<ChunkScore> per_chunk(chunks);
  tbb::parallel_for(uint64_t{0}, chunks, [&](uint64_t c) {
    const uint64_t chunk = first_chunk + c;
    const uint64_t begin = chunk * kSyntheticChunkRows;
    ChunkScore& out = per_chunk[c];
    for_each_chunk_row(sampler, teacher, seed, chunk, std::min(kSyntheticChunkRows, end_row - begin),
                       [&](uint64_t i, const synthetic::SchemaRow&, double z, int label) {
                         const uint64_t row = begin + i;
                         if (row < first_row) return;
                         const float given = labels[row - first_row];
                         if (given != static_cast<float>(label) && out.first_mismatch == std::numeric_limits<uint64_t>::max()) {
                           out.first_mismatch = row;
                           out.found = given;
                           out.expected = label;
                         }
                         out.positives += static_cast<uint64_t>(label);
                         out.loss_sum += logloss_of_logit(z, label);
                       });
  });
  double loss_sum = 0;
  for (const ChunkScore& c : per_chunk) {
    if (c.first_mismatch != std::numeric_limits<uint64_t>::max()) {
      throw Error(fmt::format("row {} (counting from 0) has label {}, but the data generated with seed {} has {} there: "
                              "not that generated data, or rows were skipped or reordered",
                              c.first_mismatch, c.found, seed, c.expected));
    }
    score.positives += c.positives;
    loss_sum += c.loss_sum;
  }
  score.logloss = loss_sum / static_cast<double>(score.rows);
  score.ne = ne_of(score.positives, score.rows, score.logloss);
  return score;
}

}  // namespace shadowsync
