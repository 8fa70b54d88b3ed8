// The random-row limit of one core for the embedding phase: gathering and row-wise-Adagrad
// updating random rows of kaggle-sized tables (26 x 131,072 rows, d = 16), fp32 rows as
// EmbeddingStore lays them out (64 B, fp32 accumulator apart) and BF16 rows (32 B), for batch
// access patterns (batch order, with prefetch, sorted distinct rows) and id distributions
// (uniform, the generator's Zipf). docs/results.md section 4.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "row_probe_common.hpp"

namespace shadowsync::row_probe {
namespace {

template <typename Row>
ProbeTables<Row>& tables() {
  static ProbeTables<Row> t;
  return t;
}

const std::vector<uint32_t>& ids(bool zipf) {
  static const std::vector<uint32_t> uniform = probe_ids(false), generator = probe_ids(true);
  return zipf ? generator : uniform;
}

// BM_RowProbe/precision/pattern/ids/batch: precision 0 = fp32 rows, 1 = BF16 rows; pattern a
// Pattern; ids 0 = uniform, 1 = the generator's Zipf; one batch per iteration (consecutive
// batches of the ids). Counters from the medians over the batches of a run: gather_us and
// update_us per batch; gather_Mrows/s (26 B rows read) and update_Mrows/s (rows updated: every
// access, or each distinct row once when sorted); gather_GB/s (row bytes read) and update_GB/s
// (row and accumulator bytes read and written back); examples/s_limit = batch / (gather +
// update): the step's rate if its embedding phases ran at this rate and nothing else took time.
template <typename Row>
void probe(benchmark::State& state) {
  const Pattern pattern = Pattern(state.range(1));
  const std::vector<uint32_t>& all = ids(state.range(2) != 0);
  const size_t batch = size_t(state.range(3));
  ProbeTables<Row>& t = tables<Row>();
  std::vector<float> out(batch * kTables * kDim), grads(batch * kTables * kDim);
  std::mt19937 rng(7);
  std::normal_distribution<float> n01(0.0f, 1e-3f);
  for (float& g : grads) g = n01(rng);
  std::vector<double> gather_s, update_s;
  double updated = 0;
  size_t begin = 0;
  for (auto _ : state) {
    if (begin + batch > kExamples) begin = 0;
    const BatchTimes b = run_pattern(t.refs.data(), pattern, all.data() + begin * kTables, batch, out.data(), grads.data());
    begin += batch;
    state.SetIterationTime(b.gather + b.update);
    gather_s.push_back(b.gather);
    update_s.push_back(b.update);
    updated += double(b.updated_rows);
  }
  const double g = median_of(gather_s), u = median_of(update_s);
  const double rows_per_batch = updated / double(state.iterations());
  const double row_bytes = ProbeTables<Row>::bytes_per_row();
  state.counters["gather_us"] = g * 1e6;
  state.counters["update_us"] = u * 1e6;
  state.counters["gather_Mrows/s"] = double(batch * kTables) / g * 1e-6;
  state.counters["update_Mrows/s"] = rows_per_batch / u * 1e-6;
  state.counters["gather_GB/s"] = double(batch * kTables) * row_bytes / g * 1e-9;
  state.counters["update_GB/s"] = rows_per_batch * 2 * (row_bytes + 4) / u * 1e-9;
  state.counters["rows_updated_per_batch"] = rows_per_batch;
  state.counters["examples/s_limit"] = double(batch) / (g + u);
  state.SetLabel(std::string(sizeof(Row) == 4 ? "fp32" : "bf16") + " " + kPatternNames[pattern] + " " +
                 (state.range(2) != 0 ? "zipf" : "uniform"));
}

void BM_RowProbe(benchmark::State& state) {
  if (state.range(0) == 0) {
    probe<float>(state);
  } else {
    probe<uint16_t>(state);
  }
}
BENCHMARK(BM_RowProbe)
    ->ArgsProduct({{0, 1}, {kBatchOrder, kPrefetch, kSortedUnique, kSortedAhead}, {0, 1}, {128, 1024}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.3);

}  // namespace
}  // namespace shadowsync::row_probe

int main(int argc, char** argv) {
  shadowsync::row_probe::add_machine_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
