// Parser throughput (MB/s of TSV) of the Criteo reader on realistic generated lines, in memory
// and from an mmapped temporary file, with one thread (a task_arena of 1) and with all threads;
// plus the binary cache open (mmap + checksums + range checks) for comparison. ParseSchemaText
// reads the same text with a schema off Criteo's fast path (C26 as a one-id multi-hot list): the
// speed of the general SchemaLineParser.
//
// The lines mimic the Kaggle Criteo dump: ~44% of I1 missing, small counts with a long tail
// (I5 up to millions), a few negatives, 26 categoricals as 8 lowercase hex digits drawn from
// Zipf-like vocabularies, ~10-40% missing in some columns; about 200-250 bytes per line.
#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/data/criteo_reader.hpp"

namespace {

using shadowsync::kNumNumeric;
using shadowsync::kNumSparse;

std::string make_text(size_t target_bytes) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double numeric_missing[kNumNumeric] = {0.45, 0.0, 0.21, 0.22, 0.03, 0.22, 0.04,
                                           0.0,  0.04, 0.45, 0.04, 0.77, 0.22};
  const double numeric_scale[kNumNumeric] = {3, 100, 20, 7, 20000, 100, 15, 15, 100, 1, 3, 3, 10};
  const double sparse_missing[kNumSparse] = {0, 0, 0.03, 0, 0,   0.12, 0, 0, 0,    0, 0, 0.03, 0,
                                             0, 0, 0.03, 0, 0, 0.44, 0.44, 0.03, 0.76, 0, 0.44,
                                             0.44, 0.44};
  const double vocab[kNumSparse] = {1400, 550, 1.7e6, 4e5, 300, 20,  12000, 600, 3,   90000,
                                    5000, 1.5e6, 3000, 26,  11000, 1.1e6, 10, 5000, 2100, 4,
                                    1.3e6, 17, 15, 1e5, 100, 70000};
  std::string text;
  text.reserve(target_bytes + 1024);
  char buf[32];
  while (text.size() < target_bytes) {
    text += unit(rng) < 0.25 ? '1' : '0';
    for (int j = 0; j < kNumNumeric; ++j) {
      text += '\t';
      if (unit(rng) < numeric_missing[j]) continue;
      const double u = unit(rng);
      const long long v = static_cast<long long>(numeric_scale[j] * u * u * u * 8) - (j == 1 ? 2 : 0);
      text += std::to_string(v);
    }
    for (int t = 0; t < kNumSparse; ++t) {
      text += '\t';
      if (unit(rng) < sparse_missing[t]) continue;
      const double u = unit(rng);
      const auto id = static_cast<uint64_t>(vocab[t] * u * u);  // skewed towards small ids
      const auto value = static_cast<uint32_t>((id * 0x9E3779B97F4A7C15ull + t) >> 32);
      std::snprintf(buf, sizeof buf, "%08x", value);
      text += buf;
    }
    text += '\n';
  }
  return text;
}

const std::string& text() {
  static const std::string t = make_text(size_t{64} << 20);
  return t;
}

void parse_in_memory(benchmark::State& state, int threads, bool general = false) {
  const std::string& t = text();
  shadowsync::ParseOptions options;
  if (general) options.schema.columns.back().kind = shadowsync::ColumnKind::MultiHot;
  tbb::task_arena arena(threads);
  size_t rows = 0;
  for (auto _ : state) {
    arena.execute([&] {
      const shadowsync::DataBlock block = shadowsync::parse_criteo_text(t, "bench", options);
      rows = block.rows();
      benchmark::DoNotOptimize(block.sparse());
    });
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * t.size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(t.size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["MB/s/thread"] = benchmark::Counter(
      static_cast<double>(t.size()) / 1e6 / threads, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/line"] = static_cast<double>(t.size()) / static_cast<double>(rows);
}

void BM_ParseText_1Thread(benchmark::State& state) { parse_in_memory(state, 1); }
void BM_ParseSchemaText_1Thread(benchmark::State& state) { parse_in_memory(state, 1, true); }
void BM_ParseText_AllThreads(benchmark::State& state) {
  parse_in_memory(state, tbb::info::default_concurrency());
}

std::string temp_file(const char* name) {
  return (std::filesystem::temp_directory_path() /
          (std::string("shadowsync_bench_") + std::to_string(::getpid()) + name))
      .string();
}

void BM_ParseFile_AllThreads(benchmark::State& state) {
  const std::string path = temp_file(".tsv");
  std::ofstream(path, std::ios::binary) << text();
  shadowsync::ParseOptions options;
  for (auto _ : state) {
    const shadowsync::DataBlock block = shadowsync::parse_criteo_file(path, options);
    benchmark::DoNotOptimize(block.sparse());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text().size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text().size()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
  std::filesystem::remove(path);
}

void BM_OpenCache(benchmark::State& state) {
  shadowsync::ParseOptions options;
  const shadowsync::DataBlock block = shadowsync::parse_criteo_text(text(), "bench", options);
  const std::string path = temp_file(".cache");
  shadowsync::write_cache(path, block.view(), options.hashing);
  const auto bytes = std::filesystem::file_size(path);
  for (auto _ : state) {
    const shadowsync::MappedCache cache = shadowsync::MappedCache::open(path, options.hashing);
    benchmark::DoNotOptimize(cache.view().sparse);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  std::filesystem::remove(path);
}

BENCHMARK(BM_ParseText_1Thread)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseSchemaText_1Thread)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseText_AllThreads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ParseFile_AllThreads)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OpenCache)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  // The machine line goes into the report's context (console header and JSON "context").
  benchmark::AddCustomContext("machine", shadowsync::machine_facts().summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
