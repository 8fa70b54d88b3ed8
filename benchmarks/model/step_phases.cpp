// Where the kaggle fp32 training step spends its time: the step of ModelWorkspace::train_step
// (default kernel choice: dnnl_sgemm, whole-layer dense Adagrad) rebuilt from the same kernels with
// a clock around each phase and each GEMM, run alternately with the real train_step in one
// benchmark; alternative embedding updates on that rebuilt step; and the embedding-row layout
// lever (row-wise Adagrad accumulator in its own array, as EmbeddingStore keeps it, against
// interleaved with the row) on the gather and update of one step. docs/results.md section 4.
#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <chrono>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "model/kernel_threading.hpp"
#include "model/layers.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "step_fixture.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

using layers::kVectors;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Phases are timed with steady_clock (about 50 ns a read here; the thread CPU clock costs
// microseconds in this guest, as much as a small phase). On a shared machine a preemption lands
// in whichever phase it interrupts, so each phase's time is the median over the steps of the run
// (a given phase is rarely the one preempted); the real step is timed in thread CPU time.
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

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

// The phases of one step, in the order train_step runs them.
enum Phase {
  kBottomForwardGemm,
  kBottomForwardEpilogue,  // bias + ReLU
  kGather,
  kInteractionForward,
  kTopForwardGemm,
  kTopForwardEpilogue,
  kLoss,
  kTopBackwardDataGemm,
  kTopReluBackward,
  kTopWeightGemm,
  kTopBiasGradient,
  kTopAdagrad,
  kInteractionBackward,
  kEmbeddingSort,    // per table: (row, example) keys and their sort
  kEmbeddingUpdate,  // per distinct row: summed gradient, row-wise Adagrad of row and accumulator
  kBottomReluBackward,
  kBottomBackwardDataGemm,
  kBottomWeightGemm,
  kBottomBiasGradient,
  kBottomAdagrad,
  kPhases
};
constexpr const char* kPhaseNames[kPhases] = {
    "bottom_fwd_gemm", "bottom_fwd_bias_relu", "gather", "interaction_fwd", "top_fwd_gemm",
    "top_fwd_bias_relu", "loss", "top_bwd_data_gemm", "top_relu_bwd", "top_weight_gemm",
    "top_bias_grad", "top_adagrad", "interaction_bwd", "emb_sort", "emb_rowwise_adagrad",
    "bottom_relu_bwd", "bottom_bwd_data_gemm", "bottom_weight_gemm", "bottom_bias_grad", "bottom_adagrad"};

inline float shared_load(const float& x) {
  return std::atomic_ref<float>(const_cast<float&>(x)).load(std::memory_order_relaxed);
}
inline void shared_store(float& x, float v) { std::atomic_ref<float>(x).store(v, std::memory_order_relaxed); }

double median_of(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// One GEMM of the step: its name, FLOPs per step and accumulated seconds.
struct GemmTimer {
  std::string name;
  double flops = 0;
  std::vector<double> samples;  // seconds, one per step
  double step_seconds = 0;       // the step running
  double median() { return median_of(samples); }
};

// The fp32 kaggle step of ModelWorkspace::train_step (default kernels, no next batch), the same
// calls in the same order, with each phase's CPU seconds accumulated.
// Embedding-update alternatives PhasedStep can run instead of train_step's (all off: train_step).
struct UpdateLevers {
  bool accumulators_in_gather = false;  // prefetch each row's accumulator during the gather
  bool next_table_ahead = false;        // before a table's updates, prefetch the next table's rows
                                        // and accumulators for writing
  size_t update_ahead = 8;              // sorted keys prefetched ahead in the update
};

class PhasedStep {
 public:
  PhasedStep(const Model& model, int batch, UpdateLevers levers = {})
      : levers_(levers), layout_(model.layout()), d_(model.config().embedding_dim),
        zwidth_(model.config().interaction_width()) {
    const size_t b = size_t(batch);
    int widest = zwidth_;
    for (const auto& l : layout_.bottom) {
      bottom_act_.emplace_back(b * l.out);
      widest = std::max({widest, l.in, l.out});
    }
    for (const auto& l : layout_.top) {
      top_act_.emplace_back(b * l.out);
      widest = std::max({widest, l.in, l.out});
    }
    t_ = AlignedFloatBuffer(b * kVectors * d_);
    z_ = AlignedFloatBuffer(b * zwidth_);
    dt_ = AlignedFloatBuffer(b * kVectors * d_);
    grad_a_ = AlignedFloatBuffer(b * widest);
    grad_b_ = AlignedFloatBuffer(b * widest);
    grad_ = AlignedFloatBuffer(layout_.total_floats);
    keys_.resize(b * kNumSparse);
    row_grad_.resize(size_t(d_));
    auto add = [&](const char* mlp, size_t l, const char* kind, const DenseLayout::Layer& L) {
      GemmTimer timer;
      timer.name = std::string(mlp) + std::to_string(l) + "_" + kind + "_" + std::to_string(L.in) + "x" +
                   std::to_string(L.out);
      timer.flops = 2.0 * double(batch) * L.in * L.out;
      gemms_.push_back(timer);
    };
    for (size_t l = 0; l < layout_.bottom.size(); ++l) {
      add("bottom", l, "fwd", layout_.bottom[l]);
      if (l > 0) add("bottom", l, "data", layout_.bottom[l]);
      add("bottom", l, "weight", layout_.bottom[l]);
    }
    for (size_t l = 0; l < layout_.top.size(); ++l) {
      add("top", l, "fwd", layout_.top[l]);
      add("top", l, "data", layout_.top[l]);
      add("top", l, "weight", layout_.top[l]);
    }
  }

  std::vector<GemmTimer>& gemms() { return gemms_; }
  // Median seconds of a phase over the steps run.
  double phase_median(int phase) const {
    std::vector<double> v;
    for (const auto& s : samples_) v.push_back(s[size_t(phase)]);
    return median_of(v);
  }

  // One step; its phase and GEMM times are recorded.
  float step(const DataView& batch, float* dense, float* state, EmbeddingStore& emb, const OptimizerConfig& opt) {
    step_seconds_.fill(0.0);
    for (auto& g : gemms_) g.step_seconds = 0;
    const float loss = run(batch, dense, state, emb, opt);
    samples_.push_back(step_seconds_);
    for (auto& g : gemms_) g.samples.push_back(g.step_seconds);
    return loss;
  }

 private:
  float run(const DataView& batch, float* dense, float* state, EmbeddingStore& emb, const OptimizerConfig& opt) {
    const int rows = int(batch.rows);
    // Forward: bottom MLP.
    const float* x = batch.numeric;
    int ldx = kNumNumeric;
    for (size_t l = 0; l < layout_.bottom.size(); ++l) {
      const auto& L = layout_.bottom[l];
      forward_layer(rows, L, x, ldx, dense, true, bottom_act_[l].data(), gemm("bottom", l, "fwd"),
                    kBottomForwardGemm, kBottomForwardEpilogue);
      x = bottom_act_[l].data();
      ldx = L.out;
    }
    mark(kGather, [&] { gather(batch, emb); });
    mark(kInteractionForward, [&] { layers::interaction_dot_forward(rows, d_, t_.data(), z_.data()); });
    x = z_.data();
    ldx = zwidth_;
    for (size_t l = 0; l < layout_.top.size(); ++l) {
      const auto& L = layout_.top[l];
      forward_layer(rows, L, x, ldx, dense, l + 1 < layout_.top.size(), top_act_[l].data(), gemm("top", l, "fwd"),
                    kTopForwardGemm, kTopForwardEpilogue);
      x = top_act_[l].data();
      ldx = L.out;
    }
    // Backward.
    double loss = 0;
    mark(kLoss, [&] {
      loss = layers::bce_forward_backward(rows, top_act_.back().data(), batch.labels, 1.0f / float(rows),
                                          grad_a_.data());
    });
    float* dy = grad_a_.data();
    int lddy = 1;
    auto other = [&](const float* p) { return p == grad_a_.data() ? grad_b_.data() : grad_a_.data(); };
    float* g = grad_.data();
    for (int l = int(layout_.top.size()) - 1; l >= 0; --l) {
      const auto& L = layout_.top[size_t(l)];
      const float* xin = l == 0 ? z_.data() : top_act_[size_t(l) - 1].data();
      const int ldxin = l == 0 ? zwidth_ : L.in;
      float* dx = other(dy);
      timed_gemm(gemm("top", size_t(l), "data"), kTopBackwardDataGemm,
                 [&] { layers::linear_backward_data(rows, L.in, L.out, dy, lddy, dense + L.weight_offset, dx, L.in); });
      if (l > 0) {
        mark(kTopReluBackward,
             [&] { layers::relu_backward(rows, L.in, top_act_[size_t(l) - 1].data(), L.in, dx, L.in); });
      }
      weight_layer(rows, L, xin, ldxin, dy, lddy, g, dense, state, opt, gemm("top", size_t(l), "weight"),
                   kTopWeightGemm, kTopBiasGradient, kTopAdagrad);
      dy = dx;
      lddy = L.in;
    }
    mark(kInteractionBackward, [&] { layers::interaction_dot_backward(rows, d_, t_.data(), dy, dt_.data()); });
    update_rows(batch, emb, opt);
    dy = dt_.data();
    lddy = kVectors * d_;
    mark(kBottomReluBackward, [&] { layers::relu_backward(rows, d_, bottom_act_.back().data(), d_, dy, lddy); });
    for (int l = int(layout_.bottom.size()) - 1; l >= 0; --l) {
      const auto& L = layout_.bottom[size_t(l)];
      const float* xin = l == 0 ? batch.numeric : bottom_act_[size_t(l) - 1].data();
      const int ldxin = l == 0 ? kNumNumeric : L.in;
      float* dx = nullptr;
      if (l > 0) {
        dx = other(dy);
        timed_gemm(gemm("bottom", size_t(l), "data"), kBottomBackwardDataGemm, [&] {
          layers::linear_backward_data(rows, L.in, L.out, dy, lddy, dense + L.weight_offset, dx, L.in);
        });
        mark(kBottomReluBackward,
             [&] { layers::relu_backward(rows, L.in, bottom_act_[size_t(l) - 1].data(), L.in, dx, L.in); });
      }
      weight_layer(rows, L, xin, ldxin, dy, lddy, g, dense, state, opt, gemm("bottom", size_t(l), "weight"),
                   kBottomWeightGemm, kBottomBiasGradient, kBottomAdagrad);
      dy = dx;
      lddy = L.in;
    }
    return float(loss / double(rows));
  }

  template <typename Fn>
  void mark(Phase phase, Fn&& fn) {
    const double start = now();
    fn();
    step_seconds_[phase] += now() - start;
  }
  template <typename Fn>
  void timed_gemm(GemmTimer& timer, Phase phase, Fn&& fn) {
    const double start = now();
    fn();
    const double took = now() - start;
    step_seconds_[phase] += took;
    timer.step_seconds += took;
  }
  GemmTimer& gemm(const char* mlp, size_t l, const char* kind) {
    const std::string prefix = std::string(mlp) + std::to_string(l) + "_" + kind + "_";
    for (auto& t : gemms_) {
      if (t.name.rfind(prefix, 0) == 0) return t;
    }
    std::abort();
  }

  // layers::linear_forward, its GEMM and its bias/ReLU timed apart.
  void forward_layer(int rows, const DenseLayout::Layer& L, const float* x, int ldx, const float* dense, bool relu,
                     float* y, GemmTimer& timer, Phase gemm_phase, Phase epilogue_phase) {
    timed_gemm(timer, gemm_phase, [&] {
      dnnl_sgemm('N', 'T', rows, L.out, L.in, 1.0f, x, ldx, dense + L.weight_offset, L.in, 0.0f, y, L.out);
    });
    mark(epilogue_phase, [&] {
      const float* b = dense + L.bias_offset;
      for (int r = 0; r < rows; ++r) {
        float* __restrict yr = y + size_t(r) * L.out;
        if (relu) {
          for (int c = 0; c < L.out; ++c) yr[c] = std::max(yr[c] + b[c], 0.0f);
        } else {
          for (int c = 0; c < L.out; ++c) yr[c] += b[c];
        }
      }
    });
  }

  // layers::linear_backward_weights (GEMM and bias column sums timed apart), then the layer's
  // dense Adagrad over its weights and bias.
  void weight_layer(int rows, const DenseLayout::Layer& L, const float* x, int ldx, const float* dy, int lddy,
                    float* g, float* dense, float* state, const OptimizerConfig& opt, GemmTimer& timer,
                    Phase gemm_phase, Phase bias_phase, Phase adagrad_phase) {
    timed_gemm(timer, gemm_phase, [&] {
      dnnl_sgemm('T', 'N', L.out, L.in, rows, 1.0f, dy, lddy, x, ldx, 0.0f, g + L.weight_offset, L.in);
    });
    mark(bias_phase, [&] {
      float* db = g + L.bias_offset;
      std::fill(db, db + L.out, 0.0f);
      for (int r = 0; r < rows; ++r) {
        const float* __restrict dyr = dy + size_t(r) * lddy;
        for (int c = 0; c < L.out; ++c) db[c] += dyr[c];
      }
    });
    mark(adagrad_phase, [&] {
      const size_t begin = L.weight_offset, end = L.bias_offset + size_t(L.out);
      layers::adagrad_update(end - begin, dense + begin, state + begin, g + begin, opt.lr, opt.eps);
    });
  }

  void gather(const DataView& batch, const EmbeddingStore& emb) {
    constexpr size_t kGatherAhead = 2;
    const float* bottom_out = bottom_act_.back().data();
    for (size_t r = 0; r < batch.rows; ++r) {
      if (r + kGatherAhead < batch.rows) {
        const uint32_t* ahead = batch.sparse + (r + kGatherAhead) * kNumSparse;
        for (int table = 0; table < kNumSparse; ++table) {
          if (ahead[table] < emb.rows(table)) __builtin_prefetch(emb.row(table, ahead[table]));
          if (levers_.accumulators_in_gather && ahead[table] < emb.rows(table)) {
            __builtin_prefetch(emb.accumulator(table) + ahead[table], 1);
          }
        }
      }
      float* tr = t_.data() + r * kVectors * d_;
      std::copy(bottom_out + r * d_, bottom_out + (r + 1) * d_, tr);
      const uint32_t* idx = batch.sparse + r * kNumSparse;
      for (int table = 0; table < kNumSparse; ++table) {
        if (idx[table] >= emb.rows(table)) std::abort();
        const float* src = emb.row(table, idx[table]);
        float* dst = tr + (1 + table) * d_;
        for (int k = 0; k < d_; ++k) dst[k] = shared_load(src[k]);
      }
    }
  }

  // for_each_row_grad + the row-wise Adagrad of train_step. The 26 tables' keys are sorted
  // first, then the rows updated table by table (train_step sorts each table's keys just before
  // its updates; the keys are a few KiB in L1/L2 either way), so that the two are timed with
  // two clock reads each.
  void update_rows(const DataView& batch, EmbeddingStore& emb, const OptimizerConfig& opt) {
    const size_t kUpdateAhead = levers_.update_ahead;
    const float lr = opt.emb_lr, eps = opt.eps, inv_d = 1.0f / float(d_);
    const size_t rows = batch.rows;
    mark(kEmbeddingSort, [&] {
      for (int table = 0; table < kNumSparse; ++table) {
        uint64_t* keys = keys_.data() + size_t(table) * rows;
        for (size_t r = 0; r < rows; ++r) keys[r] = (uint64_t(batch.sparse[r * kNumSparse + table]) << 32) | r;
        std::sort(keys, keys + rows);
      }
    });
    mark(kEmbeddingUpdate, [&] {
      for (int table = 0; table < kNumSparse; ++table) {
        const uint64_t* keys = keys_.data() + size_t(table) * rows;
        if (levers_.next_table_ahead && table + 1 < kNumSparse) {
          for (size_t r = 0; r < rows; ++r) {
            const uint32_t row = batch.sparse[r * kNumSparse + size_t(table) + 1];
            __builtin_prefetch(emb.row(table + 1, row), 1);
            __builtin_prefetch(emb.accumulator(table + 1) + row, 1);
          }
        }
        size_t i = 0;
        while (i < rows) {
          const uint32_t row = uint32_t(keys[i] >> 32);
          if (i + kUpdateAhead < rows) {
            const uint32_t ahead = uint32_t(keys[i + kUpdateAhead] >> 32);
            __builtin_prefetch(emb.row(table, ahead), 1);
            __builtin_prefetch(emb.accumulator(table) + ahead, 1);
          }
          std::fill(row_grad_.begin(), row_grad_.end(), 0.0f);
          for (; i < rows && uint32_t(keys[i] >> 32) == row; ++i) {
            const float* src = dt_.data() + (keys[i] & 0xFFFFFFFFu) * kVectors * d_ + (1 + table) * d_;
            for (int k = 0; k < d_; ++k) row_grad_[size_t(k)] += src[k];
          }
          const float* gr = row_grad_.data();
          float sumsq = 0.0f;
          for (int k = 0; k < d_; ++k) sumsq += gr[k] * gr[k];
          float& acc = emb.accumulator(table)[row];
          const float s = shared_load(acc) + sumsq * inv_d;
          shared_store(acc, s);
          const float step = lr / (std::sqrt(s) + eps);
          float* p = emb.row(table, row);
          for (int k = 0; k < d_; ++k) shared_store(p[k], shared_load(p[k]) - step * gr[k]);
        }
      }
    });
  }

  const UpdateLevers levers_;
  const DenseLayout& layout_;
  const int d_;
  const int zwidth_;
  std::vector<AlignedFloatBuffer> bottom_act_, top_act_;
  AlignedFloatBuffer t_, z_, dt_, grad_a_, grad_b_, grad_;
  std::vector<uint64_t> keys_;
  std::vector<float> row_grad_;
  std::vector<GemmTimer> gemms_;
  std::array<double, kPhases> step_seconds_{};
  std::vector<std::array<double, kPhases>> samples_;
};

// The kaggle model, one replica and table set, and the Kaggle benchmark's inputs.
struct KaggleInputs : StepFixture {
  KaggleInputs() : StepFixture("kaggle") {}
};

KaggleInputs& kaggle() {
  static KaggleInputs inputs;
  return inputs;
}

// Phases of the kaggle fp32 step at batch range(0). 16 real train_steps, then 16 phased steps, in
// turn on the same replica and tables. Counters (per step): real_step_us and phased_step_us (CPU),
// phased_sum_us (the sum of the phases' medians), each phase's median us and share of that sum,
// each GEMM's median rate over the 512^3 sgemm rate of the run (gemm_*_ratio), all GEMMs' rate,
// and the real step's ratio to the 2048^3 limit (as model_bench) and to the 512^3 rate.
void BM_KagglePhases(benchmark::State& state) {
  const double limit = limit_2048();
  KaggleInputs& f = kaggle();
  const int batch = int(state.range(0));
  ModelWorkspace workspace(f.model, batch);
  PhasedStep phased(f.model, batch);
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
  double loss_gap = 0;
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
      benchmark::DoNotOptimize(phased.step(next_batch(), f.dense.data(), f.dense_state.data(), f.store, opt));
    }
    phased_cpu += thread_cpu_seconds() - start;
    start = thread_cpu_seconds();
    dnnl_sgemm('N', 'N', kProbe, kProbe, kProbe, 1.0f, pa.data(), kProbe, pb.data(), kProbe, 0.0f, pc.data(), kProbe);
    probe_best = std::min(probe_best, (thread_cpu_seconds() - start));
  }
  // The same batch through both on the current state, each from the same start: the losses
  // agree when PhasedStep computes what train_step computes (same forward).
  {
    const DataView b = all.slice(0, size_t(batch));
    std::vector<float> dense_copy(f.dense.data(), f.dense.data() + f.model.layout().total_floats);
    std::vector<float> state_copy(f.dense_state.data(), f.dense_state.data() + f.model.layout().total_floats);
    OptimizerConfig frozen = opt;
    frozen.lr = 0;
    frozen.emb_lr = 0;
    const float a = workspace.train_step(b, dense_copy.data(), state_copy.data(), f.store, frozen);
    const float c = phased.step(b, dense_copy.data(), state_copy.data(), f.store, frozen);
    loss_gap = std::fabs(double(a) - double(c));
  }
  const double steps = 16.0 * double(state.iterations());
  std::array<double, kPhases> phase{};
  double sum = 0;
  for (int p = 0; p < kPhases; ++p) sum += phase[size_t(p)] = phased.phase_median(p);
  state.counters["real_step_us"] = real_cpu / steps * 1e6;
  state.counters["phased_step_us"] = phased_cpu / steps * 1e6;
  state.counters["phased_sum_us"] = sum * 1e6;
  state.counters["loss_gap"] = loss_gap;
  const double flops = f.config.flops_per_example_train() * batch;
  state.counters["real_ratio_to_sgemm"] = flops * 1e-9 / (real_cpu / steps) / limit;
  state.counters["sgemm_limit_GFLOP/s"] = limit;
  const double probe = 2.0 * kProbe * kProbe * kProbe / probe_best * 1e-9;
  state.counters["sgemm512_GFLOP/s"] = probe;
  state.counters["real_ratio_to_sgemm512"] = flops * 1e-9 / (real_cpu / steps) / probe;
  for (int p = 0; p < kPhases; ++p) {
    state.counters[std::string("us_") + kPhaseNames[p]] = phase[size_t(p)] * 1e6;
    state.counters[std::string("share_") + kPhaseNames[p]] = phase[size_t(p)] / sum;
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

// One embedding-update alternative against train_step's, both as PhasedStep, alternating every 16
// steps (kaggle at batch range(0)): lever range(1) = 1 accumulators prefetched in the gather,
// 2 the next table's rows and accumulators prefetched before a table's updates, 3 the update's
// prefetch 16 keys ahead instead of 8. lever_speedup = default CPU seconds / lever CPU seconds;
// median_speedup = the same from the sums of the phases' medians (default_sum_us, lever_sum_us).
void BM_KaggleUpdateLever(benchmark::State& state) {
  KaggleInputs& f = kaggle();
  const int batch = int(state.range(0));
  UpdateLevers levers;
  switch (state.range(1)) {
    case 1: levers.accumulators_in_gather = true; break;
    case 2: levers.next_table_ahead = true; break;
    default: levers.update_ahead = 16; break;
  }
  static const char* const kLabels[] = {"", "accumulators_in_gather", "next_table_ahead", "update_ahead_16"};
  state.SetLabel(kLabels[state.range(1)]);
  PhasedStep base(f.model, batch), with(f.model, batch, levers);
  const OptimizerConfig opt;
  const DataView all = f.view();
  size_t begin = 0;
  auto run = [&](PhasedStep& stepper) {
    const double start = thread_cpu_seconds();
    for (int i = 0; i < 16; ++i) {
      if (begin + size_t(batch) > all.rows) begin = 0;
      benchmark::DoNotOptimize(stepper.step(all.slice(begin, begin + size_t(batch)), f.dense.data(),
                                            f.dense_state.data(), f.store, opt));
      begin += size_t(batch);
    }
    return thread_cpu_seconds() - start;
  };
  double base_s = 0, with_s = 0;
  for (auto _ : state) {
    base_s += run(base);
    with_s += run(with);
  }
  state.counters["lever_speedup"] = base_s / with_s;
  state.counters["default_emb_update_us"] = base.phase_median(kEmbeddingUpdate) * 1e6;
  state.counters["lever_emb_update_us"] = with.phase_median(kEmbeddingUpdate) * 1e6;
  double base_sum = 0, with_sum = 0;
  for (int p = 0; p < kPhases; ++p) {
    base_sum += base.phase_median(p);
    with_sum += with.phase_median(p);
  }
  // The same ratio from the sums of the phases' medians (robust to preemption).
  state.counters["median_speedup"] = base_sum / with_sum;
  state.counters["default_sum_us"] = base_sum * 1e6;
  state.counters["lever_sum_us"] = with_sum * 1e6;
  state.counters["default_gather_us"] = base.phase_median(kGather) * 1e6;
  state.counters["lever_gather_us"] = with.phase_median(kGather) * 1e6;
}
BENCHMARK(BM_KaggleUpdateLever)
    ->ArgsProduct({{64, 128, 256, 1024}, {1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

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

// train_step's row-wise Adagrad (sorted keys, summed gradient, prefetch 8 keys ahead).
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
