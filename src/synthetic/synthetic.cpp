// generate_synthetic_criteo and the JSON summary (see include/shadowsync/synthetic/synthetic.hpp):
// a oneTBB pipeline makes chunks in parallel and writes them in chunk order.
#include "shadowsync/synthetic/synthetic.hpp"

#include <tbb/parallel_for.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "ordered_chunks.hpp"
#include "rng.hpp"
#include "schema.hpp"
#include "core/mapped_file.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/untrusted_json.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/synthetic/synthetic_schema.hpp"
#include "teacher.hpp"
#include "tsv_row.hpp"

namespace shadowsync {
namespace {

constexpr const char* kFormatName = "shadowsync-synthetic-criteo";
constexpr int kFormatVersion = 1;


// Makes the rows of chunk `chunk_index` in order, calling on_row(i, row, logit, label) for rows
// i = 0 .. rows - 1 of the chunk: the one definition of a chunk's rows, for the file and for
// score_synthetic_teacher.
template <typename OnRow>
void for_each_chunk_row(const synthetic::RowSampler& sampler, const synthetic::Teacher& teacher,
                        uint64_t seed, uint64_t chunk_index, uint64_t rows, OnRow&& on_row) {
  synthetic::Rng rng(synthetic::hash_pair(seed, chunk_index));
  synthetic::RawRow row;
  for (uint64_t i = 0; i < rows; ++i) {
    sampler.sample(rng, row);
    const double z = teacher.logit(row);
    const double p = 1.0 / (1.0 + std::exp(-z));
    const int label = rng.uniform() < p ? 1 : 0;
    on_row(i, row, z, label);
  }
}

void make_chunk(const synthetic::RowSampler& sampler, const synthetic::Teacher& teacher,
                uint64_t seed, uint64_t rows, synthetic::GeneratedChunk& chunk) {
  chunk.text.clear();
  chunk.text.reserve(rows * 256);
  chunk.positives = 0;
  chunk.loss_sum = 0;
  for_each_chunk_row(sampler, teacher, seed, chunk.index, rows,
                     [&](uint64_t, const synthetic::RawRow& row, double z, int label) {
                       chunk.positives += static_cast<uint64_t>(label);
                       chunk.loss_sum += logloss_of_logit(z, label);
                       synthetic::append_tsv_row(chunk.text, label, row);
                     });
}

void write_summary(const SyntheticSummary& s, double bias, const std::string& data_path) {
  const std::string path = data_path + ".json";
  const nlohmann::json j = {
      {"format", kFormatName},       {"version", kFormatVersion},
      {"rows", s.rows},              {"seed", s.seed},
      {"positive_rate", s.positive_rate}, {"teacher_logloss", s.teacher_logloss},
      {"teacher_ne", std::isnan(s.teacher_ne) ? nlohmann::json(nullptr) : nlohmann::json(s.teacher_ne)},
      {"teacher_bias", bias},
      {"chunk_rows", kSyntheticChunkRows},
  };
  AtomicFileWriter out(path);
  out.write(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  out.commit();
}

template <typename T>
T required_field(const nlohmann::json& j, const char* name, const std::string& path) {
  const auto it = j.find(name);
  bool ok = it != j.end();
  if (ok) {
    if constexpr (std::is_same_v<T, uint64_t>) {
      ok = it->is_number_unsigned() || (it->is_number_integer() && it->template get<int64_t>() >= 0);
    } else if constexpr (std::is_same_v<T, double>) {
      ok = it->is_number();
    } else {
      ok = it->is_string();
    }
  }
  if (!ok) throw Error(fmt::format("{}: missing or invalid field '{}'", path, name));
  return it->template get<T>();
}

}  // namespace

SyntheticSummary generate_synthetic_criteo(const SyntheticOptions& options,
                                           const std::string& out_path) {
  if (options.rows == 0 || options.rows > kSyntheticMaxRows) {
    throw Error(fmt::format("synthetic data: rows must be in [1, {}], got {}", kSyntheticMaxRows,
                            options.rows));
  }
  // Both files are written atomically: a failure (a full disk) leaves the old files as they
  // were, never a part. The old summary is removed just before the new data replaces the old,
  // and the new one written after: a summary next to a data file always describes it.
  AtomicFileWriter file(out_path);

  const synthetic::RowSampler sampler;
  const synthetic::Teacher teacher(options.seed, sampler);
  const synthetic::GeneratedTotals totals =
      synthetic::write_chunks_in_order(file, options.rows, [&](synthetic::GeneratedChunk& chunk) {
        make_chunk(sampler, teacher, options.seed, chunk.rows, chunk);
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
  // NE divides by the entropy of the positive rate: undefined (NaN) when every label is the same.
  summary.teacher_ne = positives == 0 || positives == options.rows
                           ? std::numeric_limits<double>::quiet_NaN()
                           : summary.teacher_logloss / binary_entropy(summary.positive_rate);
  write_summary(summary, teacher.bias(), out_path);
  return summary;
}

SyntheticSummary read_synthetic_summary(const std::string& json_path) {
  std::ifstream in(json_path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open synthetic summary: {}", json_path, std::strerror(errno)));
  in.close();
  nlohmann::json j;
  try {
    // Bounded like every untrusted document (huge numbers, deep nesting, duplicate keys).
    j = parse_untrusted_json(read_small_file(json_path, size_t{16} << 20), json_path);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", json_path, e.what()));
  }
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", json_path));
  const auto format = required_field<std::string>(j, "format", json_path);
  // generate_synthetic (synthetic_schema.hpp) writes "shadowsync-synthetic" with its spec.
  if (format != kFormatName && format != "shadowsync-synthetic") {
    throw Error(fmt::format("{}: field 'format' is '{}', expected '{}' or 'shadowsync-synthetic'", json_path, format,
                            kFormatName));
  }
  SyntheticSummary s;
  s.rows = required_field<uint64_t>(j, "rows", json_path);
  s.seed = required_field<uint64_t>(j, "seed", json_path);
  s.positive_rate = required_field<double>(j, "positive_rate", json_path);
  s.teacher_logloss = required_field<double>(j, "teacher_logloss", json_path);
  // null: undefined (every label the same, see generate_synthetic_criteo).
  const auto ne = j.find("teacher_ne");
  s.teacher_ne = ne != j.end() && ne->is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                : required_field<double>(j, "teacher_ne", json_path);
  if (s.rows == 0) throw Error(fmt::format("{}: field 'rows' must be at least 1", json_path));
  if (!(s.positive_rate >= 0 && s.positive_rate <= 1)) {
    throw Error(fmt::format("{}: field 'positive_rate' must be in [0, 1]", json_path));
  }
  return s;
}

TeacherScore score_synthetic_teacher(uint64_t seed, uint64_t first_row, std::span<const float> labels) {
  TeacherScore score;
  score.first_row = first_row;
  score.rows = labels.size();
  if (labels.empty()) {
    score.logloss = score.ne = std::numeric_limits<double>::quiet_NaN();
    return score;
  }
  const uint64_t end_row = first_row + labels.size();
  if (end_row < first_row || end_row > kSyntheticMaxRows) {
    throw Error(fmt::format("synthetic data: rows [{}, {}) are beyond the generator's {} rows", first_row, end_row,
                            kSyntheticMaxRows));
  }
  const synthetic::RowSampler sampler;
  const synthetic::Teacher teacher(seed, sampler);
  const uint64_t first_chunk = first_row / kSyntheticChunkRows;
  const uint64_t chunks = (end_row - 1) / kSyntheticChunkRows + 1 - first_chunk;
  struct ChunkScore {
    uint64_t positives = 0;
    double loss_sum = 0;
    uint64_t first_mismatch = std::numeric_limits<uint64_t>::max();  // file row
    float found = 0;
    int expected = 0;
  };
  std::vector<ChunkScore> per_chunk(chunks);
  tbb::parallel_for(uint64_t{0}, chunks, [&](uint64_t c) {
    const uint64_t chunk = first_chunk + c;
    const uint64_t chunk_begin = chunk * kSyntheticChunkRows;
    // Rows of the chunk up to the last wanted one (the random stream runs from the chunk's start).
    const uint64_t rows = std::min(kSyntheticChunkRows, end_row - chunk_begin);
    ChunkScore& out = per_chunk[c];
    for_each_chunk_row(sampler, teacher, seed, chunk, rows,
                       [&](uint64_t i, const synthetic::RawRow&, double z, int label) {
                         const uint64_t file_row = chunk_begin + i;
                         if (file_row < first_row) return;
                         const float given = labels[file_row - first_row];
                         if (given != static_cast<float>(label) && out.first_mismatch == std::numeric_limits<uint64_t>::max()) {
                           out.first_mismatch = file_row;
                           out.found = given;
                           out.expected = label;
                         }
                         out.positives += static_cast<uint64_t>(label);
                         out.loss_sum += logloss_of_logit(z, label);
                       });
  });
  double loss_sum = 0;
  for (const ChunkScore& c : per_chunk) {  // in row order: the same sum for any thread count
    if (c.first_mismatch != std::numeric_limits<uint64_t>::max()) {
      throw Error(fmt::format("row {} (counting from 0) has label {}, but the data generated with seed {} has {} there: "
                              "not that generated data, or rows were skipped or reordered",
                              c.first_mismatch, c.found, seed, c.expected));
    }
    score.positives += c.positives;
    loss_sum += c.loss_sum;
  }
  score.logloss = loss_sum / static_cast<double>(score.rows);
  score.ne = score.positives == 0 || score.positives == score.rows
                 ? std::numeric_limits<double>::quiet_NaN()
                 : score.logloss / binary_entropy(static_cast<double>(score.positives) / static_cast<double>(score.rows));
  return score;
}

std::optional<FoundSyntheticSummary> find_synthetic_summary(const std::string& data_path, uint64_t data_rows) {
  std::vector<std::string> candidates = {data_path + ".json"};
  const std::filesystem::path path(data_path);
  if (path.has_extension()) candidates.push_back(std::filesystem::path(path).replace_extension(".tsv.json").string());
  for (const std::string& candidate : candidates) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(candidate, ec)) continue;
    FoundSyntheticSummary found{candidate, read_synthetic_summary(candidate)};
    if (found.summary.rows != data_rows) {
      throw Error(fmt::format("{}: describes {} generated rows, but {} has {} rows", candidate, found.summary.rows,
                              data_path, data_rows));
    }
    return found;
  }
  return std::nullopt;
}

std::optional<TeacherScore> score_teacher_for_data(const std::string& data_path, uint64_t data_rows,
                                                   uint64_t first_row, std::span<const float> labels) {
  const std::optional<FoundSyntheticSummary> found = find_synthetic_summary(data_path, data_rows);
  if (!found) return std::nullopt;
  if (first_row + labels.size() > data_rows) {
    throw Error(fmt::format("{}: rows [{}, {}) are beyond its {} rows", data_path, first_row,
                            first_row + labels.size(), data_rows));
  }
  try {
    // A log of another schema: its summary records the spec its rows were made from.
    if (const std::optional<SyntheticSpec> spec = read_synthetic_spec(found->path)) {
      return score_synthetic_teacher(*spec, found->summary.seed, first_row, labels);
    }
    return score_synthetic_teacher(found->summary.seed, first_row, labels);
  } catch (const Error& e) {
    throw Error(fmt::format("{} does not match {}: {}", data_path, found->path, e.marked()));
  }
}

}  // namespace shadowsync
