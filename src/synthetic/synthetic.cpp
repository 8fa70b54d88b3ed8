// generate_synthetic_criteo and the JSON summary (see include/shadowsync/synthetic/synthetic.hpp):
// a oneTBB pipeline makes chunks in parallel and writes them in chunk order.
#include "shadowsync/synthetic/synthetic.hpp"

#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "rng.hpp"
#include "schema.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/file_io.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "teacher.hpp"
#include "tsv_row.hpp"

namespace shadowsync {
namespace {

constexpr const char* kFormatName = "shadowsync-synthetic-criteo";
constexpr int kFormatVersion = 1;

struct Chunk {
  uint64_t index = 0;
  std::string text;
  uint64_t positives = 0;
  double loss_sum = 0;
};


void make_chunk(const synthetic::RowSampler& sampler, const synthetic::Teacher& teacher,
                uint64_t seed, uint64_t rows, Chunk& chunk) {
  synthetic::Rng rng(synthetic::mix64(seed, chunk.index));
  synthetic::RawRow row;
  chunk.text.clear();
  chunk.text.reserve(rows * 256);
  chunk.positives = 0;
  chunk.loss_sum = 0;
  for (uint64_t i = 0; i < rows; ++i) {
    sampler.sample(rng, row);
    const double z = teacher.logit(row);
    const double p = 1.0 / (1.0 + std::exp(-z));
    const int label = rng.uniform() < p ? 1 : 0;
    chunk.positives += static_cast<uint64_t>(label);
    chunk.loss_sum += logloss_of_logit(z, label);
    synthetic::append_tsv_row(chunk.text, label, row);
  }
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
  const uint64_t chunks = (options.rows + kSyntheticChunkRows - 1) / kSyntheticChunkRows;

  uint64_t next_chunk = 0;
  uint64_t positives = 0;
  double loss_sum = 0;
  bool write_failed = false;
  std::string write_error;
  const size_t tokens = 2 * static_cast<size_t>(tbb::this_task_arena::max_concurrency()) + 2;
  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, Chunk*>(
          tbb::filter_mode::serial_in_order,
          [&](tbb::flow_control& fc) -> Chunk* {
            if (next_chunk == chunks || write_failed) {
              fc.stop();
              return nullptr;
            }
            auto* chunk = new Chunk;
            chunk->index = next_chunk++;
            return chunk;
          }) &
          tbb::make_filter<Chunk*, Chunk*>(
              tbb::filter_mode::parallel,
              [&](Chunk* chunk) {
                const uint64_t begin = chunk->index * kSyntheticChunkRows;
                const uint64_t rows = std::min(kSyntheticChunkRows, options.rows - begin);
                make_chunk(sampler, teacher, options.seed, rows, *chunk);
                return chunk;
              }) &
          tbb::make_filter<Chunk*, void>(
              tbb::filter_mode::serial_in_order, [&](Chunk* raw) {
                const std::unique_ptr<Chunk> chunk(raw);
                if (write_failed) return;
                // Sums in chunk order: the same result for any number of threads.
                positives += chunk->positives;
                loss_sum += chunk->loss_sum;
                try {
                  file.write(chunk->text);
                } catch (const Error& e) {  // no exception may escape the pipeline's filters
                  write_error = e.what();
                  write_failed = true;
                }
              }));
  if (write_failed) throw Error(write_error);
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
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", json_path, e.what()));
  }
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", json_path));
  const auto format = required_field<std::string>(j, "format", json_path);
  if (format != kFormatName) {
    throw Error(fmt::format("{}: field 'format' is '{}', expected '{}'", json_path, format, kFormatName));
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

}  // namespace shadowsync
