// The kaggle fp32 step's embedding phases (gather, distinct rows, row-wise Adagrad update, timed inside
// ModelWorkspace::train_step built with -DSHADOWSYNC_STEP_PHASES, as step_phases_bench) against
// the random-row limit of row_probe.hpp on the same tables and ids, in one run, so that the gap is
// known to be arithmetic (finding repeats, gradient sums, scalar accesses) or memory. docs/results.md
// section 4.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "model/step_phases.hpp"
#include "row_probe_common.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "step_fixture.hpp"

#ifndef SHADOWSYNC_STEP_PHASES
#error "embedding_limit_bench is built with -DSHADOWSYNC_STEP_PHASES and its own model_workspace.cpp"
#endif

namespace shadowsync {
namespace {

using namespace row_probe;

// Each phase's seconds in one step (the sum of its timed pieces).
class PhaseSums final : public StepPhaseTimer {
 public:
  std::array<double, kStepPhases> seconds{};
  void add(StepPhase phase, int, double s) override { seconds[size_t(phase)] += s; }
};

StepFixture& kaggle() {
  static StepFixture f("kaggle");
  return f;
}

ProbeTables<uint16_t>& bf16_tables() {
  static ProbeTables<uint16_t> t;
  return t;
}

// BM_EmbeddingVsLimit/B: in turn, one phased train_step of the kaggle fp32 model at batch B
// (uniform random rows: the step benchmarks' inputs), then the probe on the step's own
// EmbeddingStore (fp32 rows) and on BF16 tables of the same size, each run with the ids of another
// batch of the same inputs (rows no run has just touched): gather with prefetch, and the update
// of the sorted distinct rows (prefetching the next table's rows before each table:
// limit_update_next_table; or 52 rows ahead across tables: limit_update_ahead) and, for
// reference, of every access in batch order with prefetch (limit_update_batch_order: no repeats
// found, no gradient sums). Counters, medians over the steps of the run in µs per step:
// step_gather/dedup/update, step_emb (the sum of their
// medians), step_phases (the sum of every phase's median); limit_gather and limit_update (per
// step the faster of the two sorted schemes), limit_emb (their sum); the ratios step / limit
// (gather_x, update_x, dedup_update_x, emb_x; 1 = at the limit); gap_us = step_emb - limit_emb
// and dedup_share_of_gap; the same probe on BF16 rows (bf16_limit_*, bf16_saves_us); and the
// examples/s each would allow.
void BM_EmbeddingVsLimit(benchmark::State& state) {
  StepFixture& f = kaggle();
  ProbeTables<uint16_t>& b16 = bf16_tables();
  const size_t batch = size_t(state.range(0));
  ModelWorkspace workspace(f.model, batch);
  const OptimizerConfig opt;
  const DataView all = f.view();
  std::vector<TableRef<float>> f32;
  for (int t = 0; t < kTables; ++t) f32.push_back(TableRef<float>{f.store.row(t, 0), f.store.accumulator(t), size_t(f.store.row_stride())});
  std::vector<float> out(batch * kTables * kDim), grads(batch * kTables * kDim);
  std::mt19937 rng(7);
  std::normal_distribution<float> n01(0.0f, 1e-3f);
  for (float& g : grads) g = n01(rng);
  const size_t batches = StepFixture::kRows / batch;
  std::array<std::vector<double>, kStepPhases> phase_samples;
  std::vector<double> gather, dedup, update, l_gather, l_update, l_batch, l_sorted, l_ahead, b_gather, b_update;
  PhaseSums sums;
  size_t k = 0;
  for (auto _ : state) {
    const DataView step_batch = all.slice(k * batch, (k + 1) * batch);
    // Each probe run takes its own batch of ids, a sixth of the input cycle from the step's and
    // from each other's: between two uses of a batch the six runs touch a whole cycle of rows
    // (about 100 MB, three times the L3), so none finds the rows another just touched.
    auto probe_ids = [&](size_t j) { return f.sparse.data() + ((k + j * batches / 6) % batches) * batch * kTables; };
    sums.seconds.fill(0.0);
    step_phase_timer() = &sums;
    benchmark::DoNotOptimize(workspace.train_step(step_batch, f.dense.data(), f.dense_state.data(), f.store, opt));
    step_phase_timer() = nullptr;
    const auto& s = sums.seconds;
    gather.push_back(s[kGather]);
    dedup.push_back(s[kEmbeddingDedup]);
    update.push_back(s[kEmbeddingUpdate]);
    for (int p = 0; p < kStepPhases; ++p) phase_samples[size_t(p)].push_back(s[size_t(p)]);

    // The limit: the gather, and the faster of the two sorted prefetch schemes in this step. The
    // fp32 and BF16 runs alternate which goes first (the first finds the gradients out of cache).
    auto fp32_runs = [&] {
      const BatchTimes sorted = run_pattern(f32.data(), kSortedUnique, probe_ids(1), batch, out.data(), grads.data());
      const BatchTimes ahead = run_pattern(f32.data(), kSortedAhead, probe_ids(2), batch, out.data(), grads.data());
      l_sorted.push_back(sorted.update);
      l_ahead.push_back(ahead.update);
      l_gather.push_back(std::min(sorted.gather, ahead.gather));
      l_update.push_back(std::min(sorted.update, ahead.update));
      l_batch.push_back(run_pattern(f32.data(), kPrefetch, probe_ids(3), batch, out.data(), grads.data()).update);
    };
    auto bf16_runs = [&] {
      const BatchTimes bs = run_pattern(b16.refs.data(), kSortedUnique, probe_ids(4), batch, out.data(), grads.data());
      const BatchTimes ba = run_pattern(b16.refs.data(), kSortedAhead, probe_ids(5), batch, out.data(), grads.data());
      b_gather.push_back(std::min(bs.gather, ba.gather));
      b_update.push_back(std::min(bs.update, ba.update));
    };
    if (k % 2 == 0) {
      fp32_runs();
      bf16_runs();
    } else {
      bf16_runs();
      fp32_runs();
    }
    k = (k + 1) % batches;
  }
  auto us = [](const std::vector<double>& v) { return median_of(v) * 1e6; };
  // Sums of the phases' medians (a preemption lands in one phase of a step; the medians drop it).
  const double step_emb = us(gather) + us(dedup) + us(update), limit_emb = us(l_gather) + us(l_update);
  const double bf16_emb = us(b_gather) + us(b_update);
  double phases = 0;  // the sum of every phase's median, as step_phases_bench
  for (const auto& p : phase_samples) phases += us(p);
  state.counters["step_gather_us"] = us(gather);
  state.counters["step_dedup_us"] = us(dedup);
  state.counters["step_update_us"] = us(update);
  state.counters["step_emb_us"] = step_emb;
  state.counters["step_phases_us"] = phases;
  state.counters["step_emb_share"] = step_emb / phases;
  state.counters["limit_gather_us"] = us(l_gather);
  state.counters["limit_update_us"] = us(l_update);
  state.counters["limit_emb_us"] = limit_emb;
  state.counters["limit_update_batch_order_us"] = us(l_batch);
  state.counters["limit_update_next_table_us"] = us(l_sorted);
  state.counters["limit_update_ahead_us"] = us(l_ahead);
  state.counters["gather_x"] = us(gather) / us(l_gather);
  state.counters["update_x"] = us(update) / us(l_update);
  state.counters["dedup_update_x"] = (us(dedup) + us(update)) / us(l_update);
  state.counters["emb_x"] = step_emb / limit_emb;
  state.counters["gap_us"] = step_emb - limit_emb;
  state.counters["dedup_share_of_gap"] = us(dedup) / (step_emb - limit_emb);
  state.counters["bf16_limit_gather_us"] = us(b_gather);
  state.counters["bf16_limit_update_us"] = us(b_update);
  state.counters["bf16_limit_emb_us"] = bf16_emb;
  state.counters["bf16_saves_us"] = limit_emb - bf16_emb;
  state.counters["step_emb_examples/s"] = double(batch) / (step_emb * 1e-6);
  state.counters["limit_examples/s"] = double(batch) / (limit_emb * 1e-6);
  state.counters["bf16_limit_examples/s"] = double(batch) / (bf16_emb * 1e-6);
}
BENCHMARK(BM_EmbeddingVsLimit)->Arg(128)->Arg(1024)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  shadowsync::row_probe::add_machine_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
