// Benchmarks of the model: one training step (forward, backward, dense Adagrad + row-wise
// Adagrad update) of the small, kaggle and dcn (kaggle's sizes, 3 full-rank DCN-v2 cross layers)
// presets on one thread, against the machine's
// single-thread GEMM limit (dnnl_sgemm 2048^3); plus the GEMM options for one layer shape
// (dnnl_sgemm vs a dnnl::matmul primitive created once) that decided the kernel choice.
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <memory>
#include <string>
#include <random>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "bench_measure.hpp"
#include "step_fixture.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "model/kernel_threading.hpp"
#include "model/layers.hpp"
#include "model/matmul_cache.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

constexpr int kLimitSize = 2048;

double sgemm_seconds(int n, int repeats) {
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);  // warm up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double start = thread_cpu_seconds();
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, thread_cpu_seconds() - start);
  }
  return best;
}

// Single-thread sgemm GFLOP/s at 2048^3 (best of 5, thread CPU time), measured once.
double sgemm_limit_gflops() {
  static const double limit = [] {
    use_single_threaded_kernels_on_this_thread();
    return 2.0 * kLimitSize * kLimitSize * kLimitSize / sgemm_seconds(kLimitSize, 5) * 1e-9;
  }();
  return limit;
}

void BM_SgemmLimit(benchmark::State& state) {
  use_single_threaded_kernels_on_this_thread();
  const int n = int(state.range(0));
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmLimit)->Arg(kLimitSize)->Unit(benchmark::kMillisecond)->MinTime(1.0);


// Each preset's fixture, made on first use (the tables of one are 26 x 10^6 rows).
StepFixture& fixture(const char* preset) {
  if (std::string_view(preset) == "small") {
    static StepFixture small("small");
    return small;
  }
  if (std::string_view(preset) == "dcn") {
    static StepFixture dcn("dcn");
    return dcn;
  }
  static StepFixture kaggle("kaggle");
  return kaggle;
}

void train_step_bench(benchmark::State& state, const char* preset, bool prefetch_next = false) {
  const double limit = sgemm_limit_gflops();
  StepFixture& f = fixture(preset);
  const int batch = int(state.range(0));
  ModelWorkspace workspace(f.model, batch);
  const OptimizerConfig opt;
  const DataView all = f.view();
  size_t begin = 0;
  for (auto _ : state) {
    if (begin + size_t(batch) > all.rows) begin = 0;
    const size_t next = begin + size_t(batch) + size_t(batch) > all.rows ? 0 : begin + size_t(batch);
    const DataView next_batch = prefetch_next ? all.slice(next, next + size_t(batch)) : DataView{};
    benchmark::DoNotOptimize(workspace.train_step(all.slice(begin, begin + size_t(batch)), f.dense.data(),
                                                  f.dense_state.data(), f.store, opt, next_batch));
    begin += size_t(batch);
  }
  const double flops = f.config.flops_per_example_train() * batch;
  state.counters["examples/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["sgemm_limit_GFLOP/s"] = limit;
  // Rate counter divided by the limit: the step's GFLOP/s as a fraction of sgemm's.
  state.counters["ratio_to_sgemm"] = benchmark::Counter(flops * 1e-9 / limit, benchmark::Counter::kIsIterationInvariantRate);
}

// The step with and without a lever, one benchmark each: kaggle at batch range(0), lever
// range(1): 0 the default step, 3 the next batch's rows prefetched during the top MLP's backward
// (train_step's `next` argument). (Levers 1 and 2, a blocked weight update and oneDNN matmul
// primitives for fp32, lost and were removed: docs/results.md.)
// Compare with --benchmark_repetitions=N --benchmark_enable_random_interleaving=true.
void BM_TrainStepKaggleLever(benchmark::State& state) {
  state.SetLabel(state.range(1) == 3 ? "prefetch_next_batch" : "default");
  train_step_bench(state, "kaggle", state.range(1) == 3);
}
BENCHMARK(BM_TrainStepKaggleLever)
    ->ArgsProduct({{64, 128, 256, 1024}, {0, 3}})
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.5);

// One lever against the default step, alternating every 16 steps within one benchmark so both
// see the same machine load: kaggle at batch range(0), lever range(1): 3 as above, or 4
// --precision bf16 (every GEMM with BF16 inputs) against fp32 (skipped without native BF16).
// Counters: lever_speedup = default CPU seconds / lever CPU seconds over the same number of steps
// (> 1: the lever helps), and each side's examples/s.
void BM_KaggleLeverPair(benchmark::State& state) {
  const double limit = sgemm_limit_gflops();
  StepFixture& f = fixture("kaggle");
  const int batch = int(state.range(0));
  const int lever = int(state.range(1));
  ModelWorkspace workspace(f.model, batch);
  const OptimizerConfig opt;
  const DataView all = f.view();
  std::unique_ptr<ModelWorkspace> bf16_workspace;
  if (lever == 4) {
    if (const std::string why = precision_unsupported_reason(Precision::Bf16, machine_facts()); !why.empty()) {
      state.SkipWithError(why.c_str());
      return;
    }
    bf16_workspace = std::make_unique<ModelWorkspace>(f.model, batch, Precision::Bf16);
  }
  size_t begin = 0;
  auto run = [&](bool use_lever) {
    const bool prefetch = use_lever && lever == 3;
    const double start = thread_cpu_seconds();
    for (int i = 0; i < 16; ++i) {
      if (begin + size_t(batch) > all.rows) begin = 0;
      const size_t next = begin + 2 * size_t(batch) > all.rows ? 0 : begin + size_t(batch);
      ModelWorkspace& stepper = use_lever && bf16_workspace ? *bf16_workspace : workspace;
      benchmark::DoNotOptimize(stepper.train_step(all.slice(begin, begin + size_t(batch)), f.dense.data(),
                                                    f.dense_state.data(), f.store, opt,
                                                    prefetch ? all.slice(next, next + size_t(batch)) : DataView{}));
      begin += size_t(batch);
    }
    return thread_cpu_seconds() - start;
  };
  double base = 0, with = 0;
  for (auto _ : state) {
    base += run(false);
    with += run(true);
  }
  state.SetLabel(lever == 3 ? "prefetch_next_batch" : "bf16_default");
  const double steps = 16.0 * double(state.iterations());
  state.counters["lever_speedup"] = base / with;
  state.counters["default_examples/s"] = steps * batch / base;
  state.counters["lever_examples/s"] = steps * batch / with;
  state.counters["default_ratio_to_sgemm"] = steps * batch * f.config.flops_per_example_train() * 1e-9 / base / limit;
}
BENCHMARK(BM_KaggleLeverPair)
    ->ArgsProduct({{64, 128, 256, 1024}, {3, 4}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

// The kaggle step against the sgemm limit measured beside it: kSlices slices, each one sgemm
// 2048^3 (best of 2) and then kSliceSteps steps at batch range(0), both in this thread's CPU time,
// so each slice's ratio sees the same machine state (the limit alone moves by up to 10 % between
// processes on a shared machine). Counters: ratio_median / ratio_min / ratio_max over the slices
// (the step's GFLOP/s over the limit's), examples/s and the limit's range in GFLOP/s.
void BM_KaggleAgainstLimit(benchmark::State& state) {
  constexpr int kSlices = 9;
  use_single_threaded_kernels_on_this_thread();
  StepFixture& f = fixture("kaggle");
  const int batch = int(state.range(0));
  const int slice_steps = std::max(8, 24576 / batch);
  ModelWorkspace workspace(f.model, batch);
  const OptimizerConfig opt;
  const DataView all = f.view();
  const double flops = f.config.flops_per_example_train() * batch;
  std::vector<double> ratios, limits, rates;
  size_t begin = 0;
  auto steps = [&](int n) {
    for (int i = 0; i < n; ++i) {
      if (begin + size_t(batch) > all.rows) begin = 0;
      benchmark::DoNotOptimize(workspace.train_step(all.slice(begin, begin + size_t(batch)), f.dense.data(),
                                                    f.dense_state.data(), f.store, opt));
      begin += size_t(batch);
    }
  };
  for (auto _ : state) {
    steps(slice_steps / 4);  // warm the tables' and the workspace's pages
    for (int s = 0; s < kSlices; ++s) {
      const double limit = 2.0 * kLimitSize * kLimitSize * kLimitSize / sgemm_seconds(kLimitSize, 2) * 1e-9;
      const double start = thread_cpu_seconds();
      steps(slice_steps);
      const double seconds = thread_cpu_seconds() - start;
      limits.push_back(limit);
      rates.push_back(double(slice_steps) * batch / seconds);
      ratios.push_back(double(slice_steps) * flops / seconds * 1e-9 / limit);
    }
  }
  state.counters["ratio_median"] = median_of(ratios);
  state.counters["ratio_min"] = *std::min_element(ratios.begin(), ratios.end());
  state.counters["ratio_max"] = *std::max_element(ratios.begin(), ratios.end());
  state.counters["examples/s"] = median_of(rates);
  state.counters["limit_min_GFLOP/s"] = *std::min_element(limits.begin(), limits.end());
  state.counters["limit_max_GFLOP/s"] = *std::max_element(limits.begin(), limits.end());
}
BENCHMARK(BM_KaggleAgainstLimit)->Arg(128)->Arg(1024)->Iterations(1)->Unit(benchmark::kSecond);

void BM_TrainStepSmall(benchmark::State& state) { train_step_bench(state, "small"); }
void BM_TrainStepKaggle(benchmark::State& state) { train_step_bench(state, "kaggle"); }
// The dcn preset: kaggle's MLPs and tables, the dot interaction replaced by 3 full-rank cross
// layers over the 27 x 16 = 432 concatenated values (their GEMMs counted in the FLOPs).
void BM_TrainStepDcn(benchmark::State& state) { train_step_bench(state, "dcn"); }
BENCHMARK(BM_TrainStepSmall)->RangeMultiplier(2)->Range(32, 1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrainStepKaggle)->RangeMultiplier(2)->Range(32, 1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TrainStepDcn)->RangeMultiplier(2)->Range(32, 1024)->Unit(benchmark::kMicrosecond);

// One layer shape (kaggle top layer 0 forward at batch B: B x 367 -> 512), dnnl_sgemm against a
// dnnl::matmul primitive made once with the weights used in place (B x K times (K x N)^T view).
void BM_LayerSgemm(benchmark::State& state) {
  use_single_threaded_kernels_on_this_thread();
  const int m = int(state.range(0)), k = 367, n = 512;
  std::vector<float> x(size_t(m) * k, 0.5f), w(size_t(n) * k, 0.25f), y(size_t(m) * n);
  for (auto _ : state) {
    dnnl_sgemm('N', 'T', m, n, k, 1.0f, x.data(), k, w.data(), k, 0.0f, y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LayerSgemm)->Arg(128)->Arg(1024);

void BM_LayerMatmulPrimitive(benchmark::State& state) {
  use_single_threaded_kernels_on_this_thread();
  const int m = int(state.range(0)), k = 367, n = 512;
  std::vector<float> x(size_t(m) * k, 0.5f), w(size_t(n) * k, 0.25f), y(size_t(m) * n);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  const dnnl::memory::desc src({m, k}, dt::f32, tag::ab);
  const dnnl::memory::desc wei({k, n}, dt::f32, tag::ba);  // (out x in) row-major seen as K x N
  const dnnl::memory::desc dst({m, n}, dt::f32, tag::ab);
  const dnnl::matmul matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), engine));
  dnnl::memory src_mem(src, engine, x.data()), wei_mem(wei, engine, w.data()), dst_mem(dst, engine, y.data());
  for (auto _ : state) {
    matmul.execute(stream, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, wei_mem}, {DNNL_ARG_DST, dst_mem}});
    stream.wait();
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LayerMatmulPrimitive)->Arg(128)->Arg(1024);

// Where the dense Adagrad's time goes: layers::adagrad_update over range(0) parameters (319,744:
// the kaggle top MLP's), range(1) = 0: the same arrays again (in cache), 1: after a 64 MiB sweep
// that evicts w, s and g from every cache level (the step finds them partly in L3).
// Counter: ns_per_parameter (CPU time of the updates only).
void BM_DenseAdagradMemory(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const bool evict = state.range(1) != 0;
  AlignedFloatBuffer w(n), s(n), g(n);
  std::fill(w.data(), w.data() + n, 0.1f);
  std::fill(s.data(), s.data() + n, 0.01f);
  std::fill(g.data(), g.data() + n, 1e-3f);
  std::vector<float> sweep(evict ? size_t(16) << 20 : 0, 1.0f);
  double seconds = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < sweep.size(); i += 16) sweep[i] += 1.0f;
    benchmark::ClobberMemory();
    const double start = thread_cpu_seconds();
    layers::adagrad_update(n, w.data(), s.data(), g.data(), 1e-9f, 1e-8f);
    benchmark::ClobberMemory();
    seconds += thread_cpu_seconds() - start;
  }
  state.counters["ns_per_parameter"] = seconds / double(state.iterations()) / double(n) * 1e9;
}
BENCHMARK(BM_DenseAdagradMemory)->ArgsProduct({{319744}, {0, 1}})->Unit(benchmark::kMicrosecond);

// A lever that lost: the step's BF16 conversions (layers::to_bf16, the plain loop that GCC
// vectorizes: shifts, adds and a VPMOVDW per 16 floats) against VCVTNE2PS2BF16 (32 floats per
// instruction; a block with a denormal, which the instruction flushes to zero, takes the scalar
// formula so that the results are the same), alternating every 64 calls in one benchmark:
// range(0) floats (one activation, batch x 512 at 128 and 1024, or the kaggle model's 0.55 M
// weights), random inputs. Counters: plain_ns, native_ns per call, native_speedup.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512dq,avx512bf16"))) void to_bf16_native(const float* in, size_t count,
                                                                                     uint16_t* out) {
  size_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512 lo = _mm512_loadu_ps(in + i);
    const __m512 hi = _mm512_loadu_ps(in + i + 16);
    constexpr int kDenormal = 0x20;
    if (_kortestz_mask16_u8(_mm512_fpclass_ps_mask(lo, kDenormal), _mm512_fpclass_ps_mask(hi, kDenormal)) == 0) {
      for (size_t j = i; j < i + 32; ++j) out[j] = round_to_bf16(in[j]);
      continue;
    }
    _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  for (; i < count; ++i) out[i] = round_to_bf16(in[i]);
}

void BM_Bf16ConversionLever(benchmark::State& state) {
  if (!__builtin_cpu_supports("avx512bf16")) {
    state.SkipWithError("no AVX512_BF16 on this CPU");
    return;
  }
  const size_t n = size_t(state.range(0));
  std::vector<float> in(n);
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 0.1f);
  for (float& v : in) v = g(rng);
  std::vector<uint16_t> plain(n), native(n);
  double seconds[2] = {0, 0};
  for (auto _ : state) {
    for (int kernel = 0; kernel < 2; ++kernel) {
      const double start = thread_cpu_seconds();
      for (int i = 0; i < 64; ++i) {
        if (kernel == 0) {
          layers::to_bf16(1, int(n), in.data(), int(n), plain.data());
        } else {
          to_bf16_native(in.data(), n, native.data());
        }
        benchmark::ClobberMemory();
      }
      seconds[kernel] += thread_cpu_seconds() - start;
    }
  }
  if (plain != native) state.SkipWithError("the two conversions differ");
  const double calls = 64.0 * double(state.iterations());
  state.counters["plain_ns"] = seconds[0] / calls * 1e9;
  state.counters["native_ns"] = seconds[1] / calls * 1e9;
  state.counters["native_speedup"] = seconds[0] / seconds[1];
}
BENCHMARK(BM_Bf16ConversionLever)->Arg(128 * 512)->Arg(1024 * 512)->Arg(550000)->Unit(benchmark::kMicrosecond);
#endif

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  // The machine line goes into the report's context (console header and JSON "context").
  const shadowsync::MachineFacts facts = shadowsync::machine_facts();
  benchmark::AddCustomContext("machine", facts.summary());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
