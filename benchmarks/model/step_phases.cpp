// Where the kaggle fp32 training step spends its time: ModelWorkspace::train_step itself, built
// for this benchmark with its timing points compiled in (src/model/step_phases.hpp,
// -DSHADOWSYNC_STEP_PHASES; the library's step has none), run alternately untimed and timed in
// one benchmark; and the embedding-row layout lever (row-wise Adagrad accumulator in its own
// array, as EmbeddingStore keeps it, against interleaved with the row) on the gather and update
// of one step. docs/results.md section 4.
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/kernel_threading.hpp"
#include "model/layers.hpp"
#include "model/step_phases.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "bench_measure.hpp"
#include "step_fixture.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

#ifndef SHADOWSYNC_STEP_PHASES
#error "step_phases_bench is built with -DSHADOWSYNC_STEP_PHASES and its own model_workspace.cpp"
#endif

namespace shadowsync {
namespace {

using layers::kVectors;

// Single-thread dnnl_sgemm GFLOP/s at n^3, best of 5 in thread CPU time (as model_bench's limit).
double sgemm_limit_gflops(int n) {
  use_single_threaded_kernels_on_this_thread();
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const double start = thread_cpu_seconds();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, thread_cpu_seconds() - start);
  }
  return 2.0 * n * n * n / best * 1e-9;
}

double limit_2048() {
  static const double limit = sgemm_limit_gflops(2048);
  return limit;
}

inline float shared_load(const float& x) {
  return std::atomic_ref<float>(const_cast<float&>(x)).load(std::memory_order_relaxed);
}
inline void shared_store(float& x, float v) { std::atomic_ref<float>(x).store(v, std::memory_order_relaxed); }

// One GEMM of the step: its name, FLOPs per step and its seconds in each timed step.
struct GemmTimer {
  std::string name;
  double flops = 0;
  std::vector<double> samples;  // seconds, one per step
  double step_seconds = 0;       // the step running
  double median() { return median_of(samples); }
};

// Collects the timing points of train_step (installed for this thread while timed steps run):
// each phase's and each GEMM's seconds per step. Phases are timed with steady_clock (about 50 ns a
// read here; the thread CPU clock costs microseconds in this guest, as much as a small phase). On
// a shared machine a preemption lands in whichever phase it interrupts, so each phase's time is
// the median over the steps of the run (a given phase is rarely the one preempted).
class PhaseRecorder final : public StepPhaseTimer {
 public:
  explicit PhaseRecorder(const Model& model, int batch) {
    const DenseLayout& layout = model.layout();
    auto add = [&](const char* mlp, size_t l, const char* kind, const DenseLayout::Layer& L) {
      GemmTimer timer;
      timer.name = std::string(mlp) + std::to_string(l) + "_" + kind + "_" + std::to_string(L.in) + "x" +
                   std::to_string(L.out);
      timer.flops = 2.0 * double(batch) * L.in * L.out;
      gemms_.push_back(timer);
      return int(gemms_.size()) - 1;
    };
    for (size_t l = 0; l < layout.bottom.size(); ++l) {
      index_[kBottomForwardGemm].push_back(add("bottom", l, "fwd", layout.bottom[l]));
      index_[kBottomBackwardDataGemm].push_back(l > 0 ? add("bottom", l, "data", layout.bottom[l]) : -1);
      index_[kBottomWeightGemm].push_back(add("bottom", l, "weight", layout.bottom[l]));
    }
    for (size_t l = 0; l < layout.top.size(); ++l) {
      index_[kTopForwardGemm].push_back(add("top", l, "fwd", layout.top[l]));
      index_[kTopBackwardDataGemm].push_back(add("top", l, "data", layout.top[l]));
      index_[kTopWeightGemm].push_back(add("top", l, "weight", layout.top[l]));
    }
  }

  void add(StepPhase phase, int layer, double seconds) override {
    step_seconds_[size_t(phase)] += seconds;
    if (layer >= 0 && size_t(layer) < index_[size_t(phase)].size() && index_[size_t(phase)][size_t(layer)] >= 0) {
      gemms_[size_t(index_[size_t(phase)][size_t(layer)])].step_seconds += seconds;
    }
  }

  // One timed step: train_step with this recorder installed; its phase and GEMM times are kept.
  float step(ModelWorkspace& workspace, const DataView& batch, float* dense, float* state, EmbeddingStore& emb,
             const OptimizerConfig& opt) {
    step_seconds_.fill(0.0);
    for (auto& g : gemms_) g.step_seconds = 0;
    step_phase_timer() = this;
    const float loss = workspace.train_step(batch, dense, state, emb, opt);
    step_phase_timer() = nullptr;
    samples_.push_back(step_seconds_);
    for (auto& g : gemms_) g.samples.push_back(g.step_seconds);
    return loss;
  }

  std::vector<GemmTimer>& gemms() { return gemms_; }
  // Median seconds of a phase over the timed steps.
  double phase_median(int phase) const {
    std::vector<double> v;
    for (const auto& s : samples_) v.push_back(s[size_t(phase)]);
    return median_of(v);
  }

 private:
  std::vector<GemmTimer> gemms_;
  std::array<std::vector<int>, kStepPhases> index_;  // per GEMM phase and layer: index into gemms_
  std::array<double, kStepPhases> step_seconds_{};
  std::vector<std::array<double, kStepPhases>> samples_;
};

// The kaggle model, one replica and table set, and the Kaggle benchmark's inputs.
struct KaggleInputs : StepFixture {
  KaggleInputs() : StepFixture("kaggle") {}
};

KaggleInputs& kaggle() {
  static KaggleInputs inputs;
  return inputs;
}

// Phases of the kaggle fp32 step at batch range(0): 16 untimed train_steps, then 16 timed ones
// (the same step with its timing points reporting), in turn on the same workspace, replica and
// tables. Counters (per step): real_step_us and phased_step_us (CPU, untimed and timed steps),
// phased_sum_us (the sum of the phases' medians), each phase's median us and share of that sum,
// each GEMM's median rate over the 512^3 sgemm rate of the run (gemm_*_ratio), all GEMMs' rate,
// and the untimed step's ratio to the 2048^3 limit (as model_bench) and to the 512^3 rate.
void BM_KagglePhases(benchmark::State& state) {
  const double limit = limit_2048();
  KaggleInputs& f = kaggle();
  const int batch = int(state.range(0));
  ModelWorkspace workspace(f.model, batch);
  PhaseRecorder phased(f.model, batch);
  const OptimizerConfig opt;
  const DataView all = f.view();
  size_t begin = 0;
  double real_cpu = 0, phased_cpu = 0;
  // A 512^3 dnnl_sgemm after each 32 steps, in the same window of machine load: the best of the
  // run is the sgemm rate that the step's GEMMs could reach now (the 2048^3 limit is measured
  // once, at the start).
  constexpr int kProbe = 512;
  std::vector<float> pa(size_t(kProbe) * kProbe, 0.5f), pb(size_t(kProbe) * kProbe, 0.25f), pc(size_t(kProbe) * kProbe);
  double probe_best = 1e30;
  auto next_batch = [&] {
    if (begin + size_t(batch) > all.rows) begin = 0;
    const DataView b = all.slice(begin, begin + size_t(batch));
    begin += size_t(batch);
    return b;
  };
  for (auto _ : state) {
    double start = thread_cpu_seconds();
    for (int i = 0; i < 16; ++i) {
      benchmark::DoNotOptimize(workspace.train_step(next_batch(), f.dense.data(), f.dense_state.data(), f.store, opt));
    }
    real_cpu += thread_cpu_seconds() - start;
    start = thread_cpu_seconds();
    for (int i = 0; i < 16; ++i) {
      benchmark::DoNotOptimize(
          phased.step(workspace, next_batch(), f.dense.data(), f.dense_state.data(), f.store, opt));
    }
    phased_cpu += thread_cpu_seconds() - start;
    start = thread_cpu_seconds();
    dnnl_sgemm('N', 'N', kProbe, kProbe, kProbe, 1.0f, pa.data(), kProbe, pb.data(), kProbe, 0.0f, pc.data(), kProbe);
    probe_best = std::min(probe_best, (thread_cpu_seconds() - start));
  }
  const double steps = 16.0 * double(state.iterations());
  std::array<double, kStepPhases> phase{};
  double sum = 0;
  for (int p = 0; p < kStepPhases; ++p) sum += phase[size_t(p)] = phased.phase_median(p);
  state.counters["real_step_us"] = real_cpu / steps * 1e6;
  state.counters["phased_step_us"] = phased_cpu / steps * 1e6;
  state.counters["phased_sum_us"] = sum * 1e6;
  const double flops = f.config.flops_per_example_train() * batch;
  state.counters["real_ratio_to_sgemm"] = flops * 1e-9 / (real_cpu / steps) / limit;
  state.counters["sgemm_limit_GFLOP/s"] = limit;
  const double probe = 2.0 * kProbe * kProbe * kProbe / probe_best * 1e-9;
  state.counters["sgemm512_GFLOP/s"] = probe;
  state.counters["real_ratio_to_sgemm512"] = flops * 1e-9 / (real_cpu / steps) / probe;
  for (int p = 0; p < kStepPhases; ++p) {
    state.counters[std::string("us_") + kStepPhaseNames[p]] = phase[size_t(p)] * 1e6;
    state.counters[std::string("share_") + kStepPhaseNames[p]] = phase[size_t(p)] / sum;
  }
  double gemm_flops = 0, gemm_seconds = 0;
  for (auto& g : phased.gemms()) {
    const double median = g.median();
    state.counters["gemm_" + g.name + "_ratio"] = g.flops / median * 1e-9 / probe;
    gemm_flops += g.flops;
    gemm_seconds += median;
  }
  state.counters["gemms_GFLOP/s"] = gemm_flops / gemm_seconds * 1e-9;
  state.counters["gemms_ratio_to_sgemm"] = gemm_flops / gemm_seconds * 1e-9 / limit;
  state.counters["gemms_ratio_to_sgemm512"] = gemm_flops / gemm_seconds * 1e-9 / probe;
  state.counters["share_gemms"] = gemm_seconds / sum;
}
BENCHMARK(BM_KagglePhases)->Arg(64)->Arg(128)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// ---------------------------------------------------------------------------------------------
// Embedding-row layout lever: gather + row-wise Adagrad update of one kaggle step (26 tables of
// 131,072 rows, d = 16, batch range(0), uniform random rows as BM_TrainStepKaggle), for
//   separate:  rows at a 16-float stride (64 B) and the accumulator in its own array (today's
//              EmbeddingStore),
//   inter80:   the accumulator as float 16 of a 20-float (80 B) row,
//   inter128:  the accumulator as float 16 of a 32-float (128 B, two lines) row,
// the three in turn every 16 steps in one benchmark. Counters: ns per step of each (gather and
// update apart) and the bytes per row.
struct RowLayout {
  int stride;         // floats per row
  bool interleaved;   // accumulator at float 16 of the row, else in its own array
  std::vector<AlignedFloatBuffer> tables, accumulators;
  RowLayout(int s, bool inter, size_t rows) : stride(s), interleaved(inter) {
    for (int t = 0; t < kNumSparse; ++t) {
      tables.emplace_back(rows * size_t(stride));
      std::fill(tables.back().data(), tables.back().data() + rows * size_t(stride), 0.01f);
      if (!interleaved) {
        accumulators.emplace_back(rows);
        std::fill(accumulators.back().data(), accumulators.back().data() + rows, 0.0f);
      }
    }
  }
  float* row(int t, uint32_t r) { return tables[size_t(t)].data() + size_t(r) * size_t(stride); }
  float* acc(int t, uint32_t r) {
    return interleaved ? row(t, r) + 16 : accumulators[size_t(t)].data() + r;
  }
  double bytes_per_row() const { return double(stride) * 4 + (interleaved ? 0 : 4); }
};

constexpr int kDim = 16;
constexpr uint32_t kTableRows = HashingConfig::kDefaultRowsPerTable;

// The gather (prefetch two examples ahead, as train_step) of `rows` examples into t.
void layout_gather(RowLayout& L, const uint32_t* sparse, size_t rows, float* t) {
  for (size_t r = 0; r < rows; ++r) {
    if (r + 2 < rows) {
      for (int table = 0; table < kNumSparse; ++table) {
        const float* ahead = L.row(table, sparse[(r + 2) * kNumSparse + table]);
        __builtin_prefetch(ahead);
        if (L.stride == 20) __builtin_prefetch(ahead + kDim - 1);  // 80-byte rows straddle two lines
      }
    }
    for (int table = 0; table < kNumSparse; ++table) {
      const float* src = L.row(table, sparse[r * kNumSparse + table]);
      float* dst = t + (r * kVectors + 1 + size_t(table)) * kDim;
      for (int k = 0; k < kDim; ++k) dst[k] = shared_load(src[k]);
    }
  }
}

// The row-wise Adagrad as train_step ran it when these layouts were compared (sorted keys, summed
// gradient, prefetch 8 keys ahead; train_step now finds repeats with a hash map, RowGradientSums).
void layout_update(RowLayout& L, const uint32_t* sparse, size_t rows, const float* dt, std::vector<uint64_t>& keys) {
  const float lr = 0.01f, eps = 1e-8f, inv_d = 1.0f / kDim;
  float g[kDim];
  for (int table = 0; table < kNumSparse; ++table) {
    for (size_t r = 0; r < rows; ++r) keys[r] = (uint64_t(sparse[r * kNumSparse + table]) << 32) | r;
    std::sort(keys.begin(), keys.begin() + long(rows));
    size_t i = 0;
    while (i < rows) {
      const uint32_t row = uint32_t(keys[i] >> 32);
      if (i + 8 < rows) {
        const uint32_t ahead = uint32_t(keys[i + 8] >> 32);
        // With d = 16 the accumulator is never in the row's first line, whichever layout.
        __builtin_prefetch(L.row(table, ahead), 1);
        if (L.stride == 20) __builtin_prefetch(L.row(table, ahead) + kDim - 1, 1);
        __builtin_prefetch(L.acc(table, ahead), 1);
      }
      std::fill(g, g + kDim, 0.0f);
      for (; i < rows && uint32_t(keys[i] >> 32) == row; ++i) {
        const float* src = dt + ((keys[i] & 0xFFFFFFFFu) * kVectors + 1 + size_t(table)) * kDim;
        for (int k = 0; k < kDim; ++k) g[k] += src[k];
      }
      float sumsq = 0;
      for (int k = 0; k < kDim; ++k) sumsq += g[k] * g[k];
      float& acc = *L.acc(table, row);
      const float s = shared_load(acc) + sumsq * inv_d;
      shared_store(acc, s);
      const float step = lr / (std::sqrt(s) + eps);
      float* p = L.row(table, row);
      for (int k = 0; k < kDim; ++k) shared_store(p[k], shared_load(p[k]) - step * g[k]);
    }
  }
}

void BM_EmbeddingRowLayout(benchmark::State& state) {
  const size_t batch = size_t(state.range(0));
  static RowLayout separate(16, false, kTableRows), inter80(20, true, kTableRows), inter128(32, true, kTableRows);
  RowLayout* layouts[3] = {&separate, &inter80, &inter128};
  const KaggleInputs& f = kaggle();
  std::vector<float> t(batch * kVectors * kDim), dt(batch * kVectors * kDim);
  std::mt19937 rng(7);
  std::normal_distribution<float> n01(0.0f, 1e-3f);
  for (float& v : dt) v = n01(rng);
  std::vector<uint64_t> keys(batch);
  double gather_s[3] = {}, update_s[3] = {};
  size_t begin = 0;
  for (auto _ : state) {
    for (int v = 0; v < 3; ++v) {
      for (int i = 0; i < 16; ++i) {
        if (begin + batch > KaggleInputs::kRows) begin = 0;
        const uint32_t* sparse = f.sparse.data() + begin * kNumSparse;
        begin += batch;
        double start = thread_cpu_seconds();
        layout_gather(*layouts[v], sparse, batch, t.data());
        const double mid = thread_cpu_seconds();
        layout_update(*layouts[v], sparse, batch, dt.data(), keys);
        gather_s[v] += mid - start;
        update_s[v] += thread_cpu_seconds() - mid;
        benchmark::DoNotOptimize(t.data());
      }
    }
  }
  const double steps = 16.0 * double(state.iterations());
  const char* names[3] = {"separate", "inter80", "inter128"};
  for (int v = 0; v < 3; ++v) {
    state.counters[std::string(names[v]) + "_gather_ns"] = gather_s[v] / steps * 1e9;
    state.counters[std::string(names[v]) + "_update_ns"] = update_s[v] / steps * 1e9;
    state.counters[std::string(names[v]) + "_total_ns"] = (gather_s[v] + update_s[v]) / steps * 1e9;
    state.counters[std::string(names[v]) + "_bytes_per_row"] = layouts[v]->bytes_per_row();
  }
  state.counters["inter80_saves_ns"] = (gather_s[0] + update_s[0] - gather_s[1] - update_s[1]) / steps * 1e9;
  state.counters["inter128_saves_ns"] = (gather_s[0] + update_s[0] - gather_s[2] - update_s[2]) / steps * 1e9;
}
BENCHMARK(BM_EmbeddingRowLayout)->Arg(64)->Arg(128)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  const shadowsync::MachineFacts facts = shadowsync::machine_facts();
  benchmark::AddCustomContext("machine", facts.summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
