// The phases of the kaggle step in fp32 and in --precision bf16 in one run: ModelWorkspace's
// train_step built with its timing points (src/model/step_phases.hpp, -DSHADOWSYNC_STEP_PHASES),
// the two precisions alternating every 16 steps on the same replica and tables, each timed and
// untimed; and each phase's share of its step. docs/results.md section 4.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "model/step_phases.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"
#include "bench_measure.hpp"
#include "step_fixture.hpp"

#ifndef SHADOWSYNC_STEP_PHASES
#error "step_phases_precision_bench is built with -DSHADOWSYNC_STEP_PHASES and its own model_workspace.cpp"
#endif

namespace shadowsync {
namespace {

// Each phase's seconds per timed step (steady clock); medians over the steps.
class Recorder final : public StepPhaseTimer {
 public:
  void add(StepPhase phase, int, double seconds) override { step_[size_t(phase)] += seconds; }
  float step(ModelWorkspace& w, const DataView& batch, float* dense, float* state, EmbeddingStore& emb,
             const OptimizerConfig& opt) {
    step_.fill(0.0);
    step_phase_timer() = this;
    const float loss = w.train_step(batch, dense, state, emb, opt);
    step_phase_timer() = nullptr;
    samples_.push_back(step_);
    return loss;
  }
  double median(int phase) const {
    std::vector<double> v;
    for (const auto& s : samples_) v.push_back(s[size_t(phase)]);
    return median_of(v);
  }

 private:
  std::array<double, kStepPhases> step_{};
  std::vector<std::array<double, kStepPhases>> samples_;
};

StepFixture& kaggle() {
  static StepFixture f("kaggle");
  return f;
}

// kaggle at batch range(0). In turn: 16 untimed fp32 steps, 16 untimed bf16 steps, 16 timed of each.
// Counters: fp32_step_us, bf16_step_us (CPU per untimed step), bf16_speedup, and per phase
// fp32_/bf16_ us_<phase> and share_<phase> (of the sum of the phases' medians).
void BM_KagglePhasesPrecision(benchmark::State& state) {
  if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  StepFixture& f = kaggle();
  const int batch = int(state.range(0));
  ModelWorkspace fp32(f.model, batch), bf16(f.model, batch, Precision::Bf16);
  Recorder rec[2];
  ModelWorkspace* ws[2] = {&fp32, &bf16};
  const OptimizerConfig opt;
  const DataView all = f.view();
  size_t begin = 0;
  auto next_batch = [&] {
    if (begin + size_t(batch) > all.rows) begin = 0;
    const DataView b = all.slice(begin, begin + size_t(batch));
    begin += size_t(batch);
    return b;
  };
  double real[2] = {0, 0};
  for (auto _ : state) {
    for (int p = 0; p < 2; ++p) {
      const double start = thread_cpu_seconds();
      for (int i = 0; i < 16; ++i) {
        benchmark::DoNotOptimize(ws[p]->train_step(next_batch(), f.dense.data(), f.dense_state.data(), f.store, opt));
      }
      real[p] += thread_cpu_seconds() - start;
    }
    for (int p = 0; p < 2; ++p) {
      for (int i = 0; i < 16; ++i) {
        benchmark::DoNotOptimize(rec[p].step(*ws[p], next_batch(), f.dense.data(), f.dense_state.data(), f.store, opt));
      }
    }
  }
  const double steps = 16.0 * double(state.iterations());
  const char* names[2] = {"fp32_", "bf16_"};
  for (int p = 0; p < 2; ++p) {
    double sum = 0;
    std::array<double, kStepPhases> phase{};
    for (int q = 0; q < kStepPhases; ++q) sum += phase[size_t(q)] = rec[p].median(q);
    state.counters[std::string(names[p]) + "step_us"] = real[p] / steps * 1e6;
    state.counters[std::string(names[p]) + "phased_sum_us"] = sum * 1e6;
    for (int q = 0; q < kStepPhases; ++q) {
      state.counters[std::string(names[p]) + "us_" + kStepPhaseNames[q]] = phase[size_t(q)] * 1e6;
      state.counters[std::string(names[p]) + "share_" + kStepPhaseNames[q]] = phase[size_t(q)] / sum;
    }
  }
  state.counters["bf16_speedup"] = real[0] / real[1];
}
BENCHMARK(BM_KagglePhasesPrecision)
    ->Arg(128)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  benchmark::AddCustomContext("machine", shadowsync::machine_facts().summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
