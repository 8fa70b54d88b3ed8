// ModelWorkspace: forward, backward and update of the DLRM model for one worker thread.
// Buffers are sized for max_batch at construction; a step allocates nothing (a multi-hot batch with
// more ids than any before it grows the row-gradient buffers once).
#include "shadowsync/model/model_workspace.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <type_traits>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>

#include "layers.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/core/splitmix64.hpp"
#include "model/kernel_threading.hpp"
#include "model/model_workspace_testing.hpp"
#include "model/row_gradient_sums.hpp"
#include "model/step_phases.hpp"

namespace shadowsync {
namespace {

constexpr size_t kGatherAhead = 2;  // examples
// Distinct rows, across tables (8 to 80 measured: 16 to 80 within 5 % of each other, 8 slower).
constexpr size_t kUpdateAhead = 32;

// The two functions that read and write embedding rows with plain loads and stores (the benign
// race of model_workspace.hpp) are left out of ThreadSanitizer's instrumentation: every worker
// races on the rows at every step, and matching each race against a suppression made the TSan
// tests (scripts/tsan --ci) take about 15 minutes instead of 6. Their other accesses are the
// workspace's own buffers.
#if defined(__SANITIZE_THREAD__)
#define SHADOWSYNC_HOGWILD_ROWS __attribute__((no_sanitize("thread")))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHADOWSYNC_HOGWILD_ROWS __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef SHADOWSYNC_HOGWILD_ROWS
#define SHADOWSYNC_HOGWILD_ROWS
#endif

// Hogwild accesses to the shared row accumulators: relaxed atomic loads and stores (scalar, one
// per row). The rows themselves are read by the gather and written by the update with plain,
// vectorized loads and stores: the benign race of model_workspace.hpp.
inline float shared_load(const float& x) {
  return std::atomic_ref<float>(const_cast<float&>(x)).load(std::memory_order_relaxed);
}
inline void shared_store(float& x, float v) {
  std::atomic_ref<float>(x).store(v, std::memory_order_relaxed);
}
// One value of a row as fp32 (a bf16 row's half widened).
inline float row_value(float x) { return x; }
inline float row_value(uint16_t x) { return bf16_to_float(x); }

// The row-wise Adagrad update of one row (the same arithmetic for either row format, in fp32):
// acc += |g|^2 / d; p -= lr / (sqrt(acc) + eps) * g. A bf16 row's new values are rounded to the
// nearest BF16 (ties to even) or stochastically: 16 random bits per value from splitmix64 of
// (table, row, the row's new accumulator bits, value index / 4) -- a counter-based source that
// depends only on the state, so deterministic runs repeat bit for bit. g + 0 turns a -0 gradient
// into +0, so the result does not depend on whether a sum started from 0 (RowGradientSums).
template <typename Row>
SHADOWSYNC_HOGWILD_ROWS inline void update_embedding_row(EmbeddingStore& store, int table, uint32_t row,
                                                         const float* g, int d, float lr, float eps, float inv_d) {
  float sumsq = 0.0f;
  for (int k = 0; k < d; ++k) sumsq += g[k] * g[k];  // in order (no tree sum): the same bits in every build
  float& acc = store.accumulator(table)[row];
  const float s = shared_load(acc) + sumsq * inv_d;
  shared_store(acc, s);
  const float step = lr / (std::sqrt(s) + eps);
  // The row itself: plain loads and stores, vectorized (the benign race of model_workspace.hpp).
  Row* __restrict p = store.row_as<Row>(table, row);
  if constexpr (std::is_same_v<Row, float>) {
    for (int k = 0; k < d; ++k) p[k] = p[k] - step * (g[k] + 0.0f);
  } else if (store.rounding() == RowRounding::Nearest) {
    for (int k = 0; k < d; ++k) p[k] = float_to_bf16_nearest(bf16_to_float(p[k]) - step * (g[k] + 0.0f));
  } else {
    // 16 values at a time: their random halves first, then one vectorizable pass.
    const uint64_t key = (uint64_t(uint32_t(table)) << 32 | row) ^ (uint64_t(std::bit_cast<uint32_t>(s)) << 17);
    for (int k0 = 0; k0 < d; k0 += 16) {
      const int n = std::min(16, d - k0);
      uint32_t random[16];
      for (int q = 0; q < (n + 3) / 4; ++q) {
        const uint64_t bits = splitmix64_next(key + uint64_t(k0 / 4 + q) * 0xD1B54A32D192ED03ull);
        for (int j = 0; j < 4; ++j) random[4 * q + j] = uint32_t(bits >> (16 * j)) & 0xFFFFu;
      }
      for (int j = 0; j < n; ++j) {
        p[k0 + j] = float_to_bf16_stochastic(bf16_to_float(p[k0 + j]) - step * (g[k0 + j] + 0.0f), random[j]);
      }
    }
  }
}

// The shape of the interaction input t: S one-hot tables, then M multi-hot tables, table t at
// vector first + t of V. Criteo's layout has compile-time widths (its loops are those of the
// fixed-layout model, unrolled as before); any other schema runs the same code with run-time ones.
struct CriteoShape {
  static constexpr int S = kNumSparse, M = 0, first = 1, V = kNumSparse + 1;
};
struct RuntimeShape {
  int S, M, first, V;
};

std::string widths_text(const FeatureWidths& w) {
  return "numeric " + std::to_string(w.numeric) + ", categorical " + std::to_string(w.sparse) + ", multi_hot " +
         std::to_string(w.multi_hot);
}

}  // namespace

#ifdef SHADOWSYNC_STEP_PHASES
// The timing points of step_phases.hpp (the benchmark's build of this file only).
StepPhaseTimer*& step_phase_timer() {
  thread_local StepPhaseTimer* timer = nullptr;
  return timer;
}

namespace {
long long steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

StepPhaseScope::StepPhaseScope(StepPhase phase, int layer)
    : timer_(step_phase_timer()), phase_(phase), layer_(layer) {
  if (timer_ != nullptr) start_ns_ = steady_ns();
}

StepPhaseScope::~StepPhaseScope() {
  if (timer_ != nullptr) timer_->add(phase_, layer_, double(steady_ns() - start_ns_) * 1e-9);
}
#endif

struct ModelWorkspace::Impl {
  const Model& model;
  const DenseLayout& layout;
  const int max_batch;
  const int d;
  const bool dot;
  const bool dcn;        // DCN-v2 cross layers over t (their output feeds the top MLP)
  const int zwidth;      // top MLP input width (dcn: the cross width D = V d)
  const int cross_rank;  // dcn: 0 full rank, else r
  // The schema's widths (the data's must equal them): N numeric, S one-hot, M multi-hot.
  const FeatureWidths widths;
  const bool has_bottom;  // N > 0: a bottom MLP, whose output is vector 0 of the interaction
  const int first;        // vector of table 0 (1 with a bottom MLP, else 0)
  const int vectors;      // V = first + S + M
  const bool criteo_shape;  // S = 26, M = 0, a bottom MLP: CriteoShape's compile-time widths
  std::vector<char> mean_pooling;  // per multi-hot feature m: Pooling::Mean
  const Precision precision;
  // Which GEMMs take BF16 inputs: none for fp32, every one for bf16 (docs/precision.md).
  const bool bf16_forward_top, bf16_forward_bottom, bf16_data_top, bf16_data_bottom, bf16_weights_top,
      bf16_weights_bottom;
  std::vector<AlignedFloatBuffer> bottom_act, top_act;
  AlignedFloatBuffer t;       // max_batch x V x d
  AlignedFloatBuffer z;       // dot: max_batch x zwidth
  AlignedFloatBuffer dt;      // max_batch x V x d (cat: the top MLP's input gradient)
  AlignedFloatBuffer grad_a;  // ping-pong activation gradients
  AlignedFloatBuffer grad_b;
  AlignedFloatBuffer grad;    // dense gradient scratch, layout.total_floats
  // dcn (empty otherwise), each max_batch x D unless said: cross_x[l] = x_{l+1} (the last is the
  // top MLP's input; x_0 is t), cross_p[l] = p_l = x_l W_l^T + b_l, cross_h[l] = x_l V_l^T
  // (low rank, max_batch x r); backward scratch: two gradients of x (ping-pong), dp, dh
  // (max_batch x r).
  std::vector<AlignedFloatBuffer> cross_x, cross_p, cross_h;
  AlignedFloatBuffer cross_g, cross_g2, cross_dp, cross_dh;
  // BF16 copies (Precision::Bf16 only; empty for fp32), each made once per step and read by
  // every BF16 GEMM that needs it (sizes: ModelWorkspace::bf16_copy_bytes):
  //  - w16: each layer's weights (out x in), rounded in forward() right before the layer's
  //    forward GEMM and reused by its backward-data GEMM. Hogwild: other workers and the shadow
  //    thread update the replica's fp32 weights while this step runs, so the backward pass of an
  //    fp32 step may multiply by weights that differ from its forward's. Here forward and
  //    backward use the same snapshot: the step's gradient is exactly the gradient of the
  //    weights its forward pass used, at least as consistent as reading the live weights twice.
  //  - x16: each layer's input (max_batch x in, packed), made in forward() (by the previous
  //    layer's bias + ReLU pass where that layer ran in BF16) and reused by the layer's
  //    weight-gradient GEMM.
  //  - dy16: the current layer's output gradient (max_batch x out, packed), made in backward()
  //    (by the ReLU backward pass that produces dy) for both its backward-data and
  //    weight-gradient GEMMs.
  std::vector<std::vector<uint16_t>> bottom_w16, top_w16, bottom_x16, top_x16;
  std::vector<uint16_t> dy16;
  //  - dcn, per cross layer, the same scheme: cross_w16 (W, or V for low rank) and cross_u16 (U)
  //    rounded in forward() and reused by the backward-data GEMMs; cross_x16 (x_l) and cross_h16
  //    (h_l) made in forward() for the weight gradients; cross_dp16 / cross_dh16 in backward().
  std::vector<std::vector<uint16_t>> cross_w16, cross_u16, cross_x16, cross_h16;
  std::vector<uint16_t> cross_dp16, cross_dh16;
  // The batch's distinct embedding rows and their summed gradients, for the row-wise update, and
  // the number of ids of each multi-hot feature in the batch.
  RowGradientSums row_sums;
  std::vector<size_t> multi_hot_ids;

  Impl(const Model& m, int batch, Precision p)
      : model(m),
        layout(m.layout()),
        max_batch(batch),
        d(m.config().embedding_dim),
        dot(m.config().interaction == Interaction::Dot),
        dcn(m.config().interaction == Interaction::Dcn),
        zwidth(m.config().interaction_width()),
        cross_rank(m.config().cross_rank),
        widths{m.config().schema.numeric_count(), m.config().schema.categorical_count(),
               m.config().schema.multi_hot_count()},
        has_bottom(!m.layout().bottom.empty()),
        first(has_bottom ? 1 : 0),
        vectors(m.config().interaction_vectors()),
        criteo_shape(has_bottom && widths.sparse == CriteoShape::S && widths.multi_hot == 0),
        precision(p),
        bf16_forward_top(p == Precision::Bf16),
        bf16_forward_bottom(bf16_forward_top),
        bf16_data_top(bf16_forward_top),
        bf16_data_bottom(bf16_forward_top),
        bf16_weights_top(bf16_forward_top),
        bf16_weights_bottom(bf16_forward_top) {
    const size_t b = size_t(batch);
    int widest = zwidth;
    for (const auto& l : layout.bottom) {
      bottom_act.emplace_back(b * l.out);
      widest = std::max({widest, l.in, l.out});
    }
    for (const auto& l : layout.top) {
      top_act.emplace_back(b * l.out);
      widest = std::max({widest, l.in, l.out});
    }
    for (int mh = 0; mh < widths.multi_hot; ++mh) {
      mean_pooling.push_back(m.config().schema.pooling(mh) == Pooling::Mean ? 1 : 0);
    }
    multi_hot_ids.resize(size_t(widths.multi_hot));
    row_sums.reserve(d, b * size_t(widths.sparse), b);  // a multi-hot batch may grow it
    t = AlignedFloatBuffer(b * size_t(vectors) * size_t(d));
    if (dot) z = AlignedFloatBuffer(b * size_t(zwidth));
    dt = AlignedFloatBuffer(b * size_t(vectors) * size_t(d));
    grad_a = AlignedFloatBuffer(b * widest);
    grad_b = AlignedFloatBuffer(b * widest);
    grad = AlignedFloatBuffer(layout.total_floats);
    const size_t cross_floats = b * size_t(zwidth), rank_floats = b * size_t(cross_rank);
    for (size_t l = 0; dcn && l < layout.cross.size(); ++l) {
      cross_x.emplace_back(cross_floats);
      cross_p.emplace_back(cross_floats);
      if (cross_rank > 0) cross_h.emplace_back(rank_floats);
    }
    if (dcn) {
      cross_g = AlignedFloatBuffer(cross_floats);
      cross_g2 = AlignedFloatBuffer(cross_floats);
      cross_dp = AlignedFloatBuffer(cross_floats);
      if (cross_rank > 0) cross_dh = AlignedFloatBuffer(rank_floats);
    }
    if (dcn && p == Precision::Bf16) {
      const size_t D = size_t(zwidth), r = size_t(cross_rank);
      for (size_t l = 0; l < layout.cross.size(); ++l) {
        cross_w16.emplace_back(r == 0 ? D * D : r * D);
        cross_x16.emplace_back(cross_floats);
        if (r > 0) {
          cross_u16.emplace_back(D * r);
          cross_h16.emplace_back(rank_floats);
        }
      }
      cross_dp16.resize(cross_floats);
      cross_dh16.resize(rank_floats);
    }
    if (p == Precision::Bf16) {
      size_t widest_out = 0;
      for (const auto& l : layout.bottom) {
        bottom_w16.emplace_back(size_t(l.out) * size_t(l.in));
        bottom_x16.emplace_back(b * size_t(l.in));
        widest_out = std::max(widest_out, size_t(l.out));
      }
      for (const auto& l : layout.top) {
        top_w16.emplace_back(size_t(l.out) * size_t(l.in));
        top_x16.emplace_back(b * size_t(l.in));
        widest_out = std::max(widest_out, size_t(l.out));
      }
      dy16.resize(b * widest_out);
    }
  }

  const float* top_input() const { return dcn ? cross_x.back().data() : dot ? z.data() : t.data(); }
  // Layer l's BF16 copy in `copies`; null for fp32 (no copies, never read).
  static uint16_t* copy_of(std::vector<std::vector<uint16_t>>& copies, size_t l) {
    return copies.empty() ? nullptr : copies[l].data();
  }

  // One layer's forward pass: y = x w^T + b (ReLU if relu) on the replica's weights `dense`, in
  // BF16 when bf16_forward. BF16 copies for the backward pass (when `for_backward`): the weights
  // when `need_w16` (backward-data GEMM in BF16), the input when `need_x16` (weight gradient).
  // x16_ready: the previous layer already wrote x16. next_x16 (BF16 forward only; may be null):
  // where to write y's BF16 copy, the next layer's input copy, while y is computed.
  // Timed as `gemm_phase` (of layer `layer`) and `epilogue_phase` (fp32: bias and ReLU apart).
  void layer_forward(const DenseLayout::Layer& L, int rows, const float* x, int ldx, const float* dense,
                     bool relu, float* y, uint16_t* w16, uint16_t* x16, bool x16_ready, uint16_t* next_x16,
                     bool bf16_forward, bool need_w16, bool need_x16, StepPhase gemm_phase,
                     StepPhase epilogue_phase, int layer) {
    {
      StepPhaseScope timed(kBf16Convert);
      if (bf16_forward || need_w16) layers::weights_to_bf16(L.out, L.in, dense + L.weight_offset, w16);
      if ((bf16_forward || need_x16) && !x16_ready) layers::to_bf16(rows, L.in, x, ldx, x16);
    }
    if (bf16_forward) {
      StepPhaseScope timed(gemm_phase, layer);
      layers::linear_forward_bf16(rows, L.in, L.out, x16, L.in, w16, dense + L.bias_offset, relu, y, L.out,
                                  next_x16);
    } else {
      {
        StepPhaseScope timed(gemm_phase, layer);
        layers::linear_forward_gemm(rows, L.in, L.out, x, ldx, dense + L.weight_offset, y, L.out);
      }
      StepPhaseScope timed(epilogue_phase);
      layers::add_bias(rows, L.out, dense + L.bias_offset, relu, y, L.out);
    }
  }

  // Forward pass up to the logits (top_act.back(), rows x 1). `for_backward`: backward() follows
  // (it reads the BF16 copies made here). Each BF16 copy is made once: a layer's input copy is
  // written by the previous layer's forward (BF16) or rounded here.
  void forward(const DataView& batch, const float* dense, const EmbeddingStore& emb, bool for_backward) {
    const int rows = int(batch.rows);
    const float* x = batch.numeric;
    int ldx = widths.numeric;
    const size_t bottom_layers = layout.bottom.size(), top_layers = layout.top.size();
    bool x16_ready = false;
    for (size_t l = 0; l < bottom_layers; ++l) {
      const auto& L = layout.bottom[l];
      uint16_t* next_x16 = bf16_forward_bottom && l + 1 < bottom_layers ? copy_of(bottom_x16, l + 1) : nullptr;
      layer_forward(L, rows, x, ldx, dense, true, bottom_act[l].data(), copy_of(bottom_w16, l),
                    copy_of(bottom_x16, l), x16_ready, next_x16, bf16_forward_bottom,
                    for_backward && bf16_data_bottom && l > 0, for_backward && bf16_weights_bottom,
                    kBottomForwardGemm, kBottomForwardEpilogue, int(l));
      x16_ready = next_x16 != nullptr;
      x = bottom_act[l].data();
      ldx = L.out;
    }
    {
      StepPhaseScope timed(kGather);
      const bool bf16 = emb.format() == RowFormat::Bf16;
      if (criteo_shape && bf16) {
        gather_embedding_rows<uint16_t>(batch, emb, CriteoShape{});
      } else if (criteo_shape) {
        gather_embedding_rows<float>(batch, emb, CriteoShape{});
      } else if (bf16) {
        gather_embedding_rows<uint16_t>(batch, emb, runtime_shape());
      } else {
        gather_embedding_rows<float>(batch, emb, runtime_shape());
      }
    }
    if (dot) {
      StepPhaseScope timed(kInteractionForward);
      layers::interaction_dot_forward(rows, d, vectors, has_bottom, t.data(), z.data());
    }
    if (dcn) cross_forward(rows, dense);
    x = top_input();
    ldx = zwidth;
    x16_ready = false;
    for (size_t l = 0; l < top_layers; ++l) {
      const auto& L = layout.top[l];
      uint16_t* next_x16 = bf16_forward_top && l + 1 < top_layers ? copy_of(top_x16, l + 1) : nullptr;
      layer_forward(L, rows, x, ldx, dense, l + 1 < top_layers, top_act[l].data(), copy_of(top_w16, l),
                    copy_of(top_x16, l), x16_ready, next_x16, bf16_forward_top, for_backward && bf16_data_top,
                    for_backward && bf16_weights_top, kTopForwardGemm, kTopForwardEpilogue, int(l));
      x16_ready = next_x16 != nullptr;
      x = top_act[l].data();
      ldx = L.out;
    }
  }

  // The dcn cross layers over x0 = t: x_{l+1} = x0 * (x_l W_l^T + b_l) + x_l (low rank: W = U V,
  // h = x_l V^T first). With Precision::Bf16 the GEMMs take BF16 copies of the weights and of
  // their inputs (kept for backward()).
  void cross_forward(int rows, const float* dense) {
    const int D = zwidth, r = cross_rank;
    const bool bf16 = precision == Precision::Bf16;
    const float* x0 = t.data();
    const float* x = x0;
    for (size_t l = 0; l < layout.cross.size(); ++l) {
      const DenseLayout::Cross& C = layout.cross[l];
      float* p = cross_p[l].data();
      if (bf16) {
        uint16_t* x16 = cross_x16[l].data();
        layers::to_bf16(rows, D, x, D, x16);
        if (r == 0) {
          layers::weights_to_bf16(D, D, dense + C.weight_offset, cross_w16[l].data());
          StepPhaseScope timed(kCrossForwardGemm, int(l));
          layers::linear_forward_gemm_bf16(rows, D, D, x16, D, cross_w16[l].data(), p, D);
        } else {
          layers::weights_to_bf16(r, D, dense + C.v_offset, cross_w16[l].data());
          layers::weights_to_bf16(D, r, dense + C.u_offset, cross_u16[l].data());
          StepPhaseScope timed(kCrossForwardGemm, int(l));
          layers::linear_forward_gemm_bf16(rows, D, r, x16, D, cross_w16[l].data(), cross_h[l].data(), r);
          layers::to_bf16(rows, r, cross_h[l].data(), r, cross_h16[l].data());
          layers::linear_forward_gemm_bf16(rows, r, D, cross_h16[l].data(), r, cross_u16[l].data(), p, D);
        }
      } else {
        StepPhaseScope timed(kCrossForwardGemm, int(l));
        if (r == 0) {
          layers::linear_forward_gemm(rows, D, D, x, D, dense + C.weight_offset, p, D);
        } else {
          layers::linear_forward_gemm(rows, D, r, x, D, dense + C.v_offset, cross_h[l].data(), r);
          layers::linear_forward_gemm(rows, r, D, cross_h[l].data(), r, dense + C.u_offset, p, D);
        }
      }
      StepPhaseScope timed(kCrossForwardEpilogue);
      layers::add_bias(rows, D, dense + C.bias_offset, false, p, D);
      layers::cross_forward(size_t(rows) * size_t(D), x0, p, x, cross_x[l].data());
      x = cross_x[l].data();
    }
  }

  // The next batch of train_step(..., next) while a step runs (null otherwise), and its store.
  const DataView* prefetch_next = nullptr;
  const EmbeddingStore* prefetch_store = nullptr;

  RuntimeShape runtime_shape() const { return RuntimeShape{widths.sparse, widths.multi_hot, first, vectors}; }

  // Prefetches (hint `locality`) the rows of the multi-hot lists of example r of `v`; ids outside
  // their table are skipped (only the gather checks them).
  template <typename Shape>
  static void prefetch_bag_rows(const DataView& v, size_t r, const EmbeddingStore& store, Shape sh) {
    for (int m = 0; m < sh.M; ++m) {
      const int table = sh.S + m;
      for (uint64_t i = v.bag_begin(r, m), e = v.bag_end(r, m); i < e; ++i) {
        if (v.bag_ids[i] < store.rows(table)) __builtin_prefetch(store.row_address(table, v.bag_ids[i]), 0, 2);
      }
    }
  }

  // Prefetches into L2 the embedding rows of examples [begin, end) of `next`.
  template <typename Shape>
  void prefetch_rows(const DataView& next, size_t begin, size_t end, Shape sh) const {
    for (size_t r = begin; r < end; ++r) {
      const uint32_t* idx = next.sparse + r * sh.S;
      for (int table = 0; table < sh.S; ++table) {
        if (idx[table] < prefetch_store->rows(table)) __builtin_prefetch(prefetch_store->row_address(table, idx[table]), 0, 2);
      }
      if (sh.M > 0) prefetch_bag_rows(next, r, *prefetch_store, sh);
    }
  }
  void prefetch_rows(const DataView& next, size_t begin, size_t end) const {
    if (criteo_shape) {
      prefetch_rows(next, begin, end, CriteoShape{});
    } else {
      prefetch_rows(next, begin, end, runtime_shape());
    }
  }

  [[noreturn]] void throw_bad_row(size_t example, int table, uint32_t row, const EmbeddingStore& emb) const {
    throw Error("model: example " + std::to_string(example) + " of the batch: feature " +
                model.config().schema.table_name(table) + " has row " + std::to_string(row) +
                " but its table has " + std::to_string(emb.rows(table)) + " rows (data hashed for another model?)");
  }

  // t[r] = [bottom output (with a bottom MLP), embedding rows of the S one-hot tables, pooled rows
  // (sum or mean of the list's rows; an empty list: zeros) of the M multi-hot tables].
  // Row: float (fp32 rows) or uint16_t (bf16 rows, widened to fp32 as they are loaded).
  template <typename Row, typename Shape>
  SHADOWSYNC_HOGWILD_ROWS void gather_embedding_rows(const DataView& batch, const EmbeddingStore& emb, Shape sh) {
    const float* bottom_out = sh.first > 0 ? bottom_act.back().data() : nullptr;
    for (size_t r = 0; r < batch.rows; ++r) {
      // The rows are random lines of large tables: prefetch those of a later example so that
      // their misses overlap (prefetches never fault; out-of-range indices are skipped).
      if (r + kGatherAhead < batch.rows) {
        const uint32_t* ahead = batch.sparse + (r + kGatherAhead) * sh.S;
        for (int table = 0; table < sh.S; ++table) {
          if (ahead[table] < emb.rows(table)) __builtin_prefetch(emb.row_address(table, ahead[table]));
        }
        if (sh.M > 0) prefetch_bag_rows(batch, r + kGatherAhead, emb, sh);
      }
      float* tr = t.data() + r * sh.V * d;
      if (sh.first > 0) std::copy(bottom_out + r * d, bottom_out + (r + 1) * d, tr);
      const uint32_t* idx = batch.sparse + r * sh.S;
      for (int table = 0; table < sh.S; ++table) {
        if (idx[table] >= emb.rows(table)) throw_bad_row(r, table, idx[table], emb);
        const Row* src = emb.row_as<Row>(table, idx[table]);
        float* dst = tr + (sh.first + table) * d;
        for (int k = 0; k < d; ++k) dst[k] = row_value(src[k]);
      }
      for (int m = 0; m < sh.M; ++m) {
        const int table = sh.S + m;
        float* dst = tr + (sh.first + table) * d;
        std::fill(dst, dst + d, 0.0f);
        const uint64_t b = batch.bag_begin(r, m), e = batch.bag_end(r, m);
        if (e < b) {
          throw Error("model: example " + std::to_string(r) + " of the batch: feature " +
                      model.config().schema.table_name(table) + ": its list ends (" + std::to_string(e) +
                      ") before it begins (" + std::to_string(b) + "); bag_offsets must not decrease");
        }
        for (uint64_t i = b; i < e; ++i) {
          const uint32_t id = batch.bag_ids[i];
          if (id >= emb.rows(table)) throw_bad_row(r, table, id, emb);
          const Row* src = emb.row_as<Row>(table, id);
          for (int k = 0; k < d; ++k) dst[k] += row_value(src[k]);
        }
        if (mean_pooling[size_t(m)] && e > b) {
          const float n = float(e - b);
          for (int k = 0; k < d; ++k) dst[k] /= n;
        }
      }
    }
  }

  // Backward pass after forward(..., true): dense gradients into `g` (layout offsets), embedding
  // input gradients into dt. The fp32 backward-data GEMMs read the weights in dense_in; the BF16
  // ones read forward()'s copies w16 (the weights the forward pass used). With `apply`, each
  // layer's parameters are updated right after its gradient is computed (while it is in cache)
  // and after its backward-data GEMM used them. `after_interaction()` runs as soon as dt holds
  // the embedding gradients, before the bottom MLP's backward pass (train_step updates the rows
  // then, while dt is still in cache).
  template <typename AfterInteraction>
  double backward(const DataView& batch, const float* dense_in, float* g, float* dense_out,
                  float* state, const OptimizerConfig* apply, AfterInteraction&& after_interaction) {
    const int rows = int(batch.rows);
    const float* logits = top_act.back().data();
    const double loss_sum = [&] {
      StepPhaseScope timed(kLoss);
      return layers::bce_forward_backward(rows, logits, batch.labels, 1.0f / float(rows), grad_a.data());
    }();
    float* dy = grad_a.data();
    int lddy = 1;
    auto other = [&](const float* p) { return p == grad_a.data() ? grad_b.data() : grad_a.data(); };
    auto update_range = [&](size_t begin, size_t end) {
      if (apply->dense == DenseOptimizer::Adagrad) {
        layers::adagrad_update(end - begin, dense_out + begin, state + begin, g + begin, apply->lr,
                               apply->eps);
      } else {
        layers::sgd_update(end - begin, dense_out + begin, g + begin, apply->lr);
      }
    };
    // The layer's weight and bias gradients into g (in BF16 from the layer's input copy x16 of
    // forward() and dy16, which the caller rounded dy into; else fp32), then with `apply` the
    // layer's update: the whole layer's gradient, then the update (updating per 64 KiB block of
    // gradient, while in L2, was measured slower: docs/results.md, "Levers, one at a time").
    // bias_summed: the ReLU backward that made dy_ already wrote the bias gradient (its column
    // sums, in the same order of additions as column_sums).
    auto weight_gradient_and_update = [&](const DenseLayout::Layer& L, bool top, int layer, const float* x,
                                          int ldx, const uint16_t* x16, const float* dy_, int lddy_, bool bf16,
                                          bool bias_summed) {
      float* dw = g + L.weight_offset;
      float* db = bias_summed ? nullptr : g + L.bias_offset;
      if (bf16) {
        StepPhaseScope timed(top ? kTopWeightGemm : kBottomWeightGemm, layer);
        layers::linear_backward_weights_bf16(rows, L.in, L.out, x16, L.in, dy16.data(), L.out, dy_, lddy_, dw, db);
      } else {
        {
          StepPhaseScope timed(top ? kTopWeightGemm : kBottomWeightGemm, layer);
          layers::linear_backward_weights_gemm(rows, L.in, L.out, x, ldx, dy_, lddy_, dw);
        }
        if (db != nullptr) {
          StepPhaseScope timed(top ? kTopBiasGradient : kBottomBiasGradient);
          layers::column_sums(rows, L.out, dy_, lddy_, db);
        }
      }
      if (apply != nullptr) {
        StepPhaseScope timed(top ? kTopAdagrad : kBottomAdagrad);
        update_range(L.weight_offset, L.bias_offset + size_t(L.out));
      }
    };
    // dx = dy w for a layer whose output gradient is dy: in BF16 from dy16 (dy's copy, also read
    // by the layer's weight gradient) and the weights' copy w16 of forward(), else fp32 from the
    // weights in dense_in.
    auto data_gradient = [&](const DenseLayout::Layer& L, bool top, int layer, const float* dy_, int lddy_,
                             const uint16_t* w16, bool bf16, float* dx) {
      StepPhaseScope timed(top ? kTopBackwardDataGemm : kBottomBackwardDataGemm, layer);
      if (bf16) {
        layers::linear_backward_data_bf16(rows, L.in, L.out, dy16.data(), L.out, w16, dx, L.in);
      } else {
        layers::linear_backward_data(rows, L.in, L.out, dy_, lddy_, dense_in + L.weight_offset, dx, L.in);
      }
    };
    const int top_layers = int(layout.top.size());
    for (int l = top_layers - 1; l >= 0; --l) {
      const auto& L = layout.top[size_t(l)];
      if (prefetch_next != nullptr) {  // this layer's share of the next batch's examples
        const size_t n = prefetch_next->rows;
        const int share = top_layers - 1 - l;
        prefetch_rows(*prefetch_next, n * size_t(share) / size_t(top_layers),
                      n * size_t(share + 1) / size_t(top_layers));
      }
      const float* x = l == 0 ? top_input() : top_act[size_t(l) - 1].data();
      const int ldx = l == 0 ? zwidth : L.in;
      // The top MLP's input gradient: cat's is t's (dt); dcn's is x_L's (cross_g).
      float* dx = l > 0 || dot ? other(dy) : dcn ? cross_g.data() : dt.data();
      // dy16: dy's BF16 copy, made by the ReLU backward of the layer above (or here for the
      // logits' gradient).
      if ((bf16_data_top || bf16_weights_top) && l == top_layers - 1) {
        StepPhaseScope timed(kBf16Convert);
        layers::to_bf16(rows, L.out, dy, lddy, dy16.data());
      }
      data_gradient(L, true, l, dy, lddy, copy_of(top_w16, size_t(l)), bf16_data_top, dx);
      weight_gradient_and_update(L, true, l, x, ldx, copy_of(top_x16, size_t(l)), dy, lddy, bf16_weights_top,
                                 l + 1 < top_layers);
      // After the weight gradient, which still reads dy16: the next layer's dy, its copy and its
      // bias gradient.
      if (l > 0) {
        float* db_below = g + layout.top[size_t(l) - 1].bias_offset;
        StepPhaseScope timed(kTopReluBackward);
        if (bf16_data_top || bf16_weights_top) {
          layers::relu_backward(rows, L.in, top_act[size_t(l) - 1].data(), L.in, dx, L.in, dy16.data(), db_below);
        } else {
          layers::relu_backward(rows, L.in, top_act[size_t(l) - 1].data(), L.in, dx, L.in, db_below);
        }
      }
      dy = dx;
      lddy = L.in;
    }
    if (dot) {
      StepPhaseScope timed(kInteractionBackward);
      layers::interaction_dot_backward(rows, d, vectors, has_bottom, t.data(), dy, dt.data());
    }
    if (dcn) {
      // From gx = dL/dx_{l+1}, layer l = L-1 .. 0: dp = gx * x0, dx0 += gx * p_l (into dt),
      // dL/dx_l = gx + dp W (low rank: dh = dp U, then dh V); dW = dp^T x_l (low rank:
      // dU = dp^T h, dV = dh^T x_l), db = column sums of dp; then the layer's update, after its
      // backward-data GEMMs read its weights. Finally dt += dL/dx_0.
      const int D = zwidth, r = cross_rank;
      const size_t n = size_t(rows) * size_t(D);
      const bool bf16 = precision == Precision::Bf16;
      float* gx = cross_g.data();
      float* gnext = cross_g2.data();
      float* dp = cross_dp.data();
      for (int l = int(layout.cross.size()) - 1; l >= 0; --l) {
        const DenseLayout::Cross& C = layout.cross[size_t(l)];
        const float* x = l == 0 ? t.data() : cross_x[size_t(l) - 1].data();
        {
          StepPhaseScope timed(kCrossBackwardElementwise);
          layers::cross_backward(n, gx, t.data(), cross_p[size_t(l)].data(), dp, dt.data(),
                                 l + 1 < int(layout.cross.size()));
          if (bf16) layers::to_bf16(rows, D, dp, D, cross_dp16.data());
        }
        if (r == 0) {
          {
            StepPhaseScope timed(kCrossBackwardDataGemm, l);
            if (bf16) {
              layers::linear_backward_data_bf16(rows, D, D, cross_dp16.data(), D, cross_w16[size_t(l)].data(), gnext, D);
            } else {
              layers::linear_backward_data(rows, D, D, dp, D, dense_in + C.weight_offset, gnext, D);
            }
          }
          StepPhaseScope timed(kCrossWeightGemm, l);
          if (bf16) {
            layers::linear_backward_weights_gemm_bf16(rows, D, D, cross_x16[size_t(l)].data(), D, cross_dp16.data(), D,
                                                      g + C.weight_offset);
          } else {
            layers::linear_backward_weights_gemm(rows, D, D, x, D, dp, D, g + C.weight_offset);
          }
        } else {
          float* dh = cross_dh.data();
          {
            StepPhaseScope timed(kCrossBackwardDataGemm, l);
            if (bf16) {
              layers::linear_backward_data_bf16(rows, r, D, cross_dp16.data(), D, cross_u16[size_t(l)].data(), dh, r);
              layers::to_bf16(rows, r, dh, r, cross_dh16.data());
              layers::linear_backward_data_bf16(rows, D, r, cross_dh16.data(), r, cross_w16[size_t(l)].data(), gnext, D);
            } else {
              layers::linear_backward_data(rows, r, D, dp, D, dense_in + C.u_offset, dh, r);
              layers::linear_backward_data(rows, D, r, dh, r, dense_in + C.v_offset, gnext, D);
            }
          }
          StepPhaseScope timed(kCrossWeightGemm, l);
          if (bf16) {
            layers::linear_backward_weights_gemm_bf16(rows, r, D, cross_h16[size_t(l)].data(), r, cross_dp16.data(), D,
                                                      g + C.u_offset);
            layers::linear_backward_weights_gemm_bf16(rows, D, r, cross_x16[size_t(l)].data(), D, cross_dh16.data(), r,
                                                      g + C.v_offset);
          } else {
            layers::linear_backward_weights_gemm(rows, r, D, cross_h[size_t(l)].data(), r, dp, D, g + C.u_offset);
            layers::linear_backward_weights_gemm(rows, D, r, x, D, dh, r, g + C.v_offset);
          }
        }
        {
          StepPhaseScope timed(kCrossBiasGradient);
          layers::column_sums(rows, D, dp, D, g + C.bias_offset);
        }
        {
          StepPhaseScope timed(kCrossBackwardElementwise);
          layers::add_to(n, gnext, gx);  // dL/dx_l = gx + (dp W)
        }
        if (apply != nullptr) {
          StepPhaseScope timed(kCrossAdagrad);
          update_range(C.begin(), C.end());
        }
        std::swap(gx, gnext);
      }
      StepPhaseScope timed(kCrossBackwardElementwise);
      layers::add_to(n, dt.data(), gx);  // x0's own path into x_1 = x0 * p_0 + x0
    }
    after_interaction();
    if (!has_bottom) return loss_sum;
    // The bottom MLP's output gradient is dt[:, 0, :] (leading dimension V d).
    dy = dt.data();
    lddy = vectors * d;
    // dy16 (the bottom MLP's GEMMs in BF16): each layer's dy copy, written by the ReLU backward
    // that makes dy.
    // Each ReLU backward also writes the bias gradient of the layer below it.
    const bool bottom_dy16 = bf16_data_bottom || bf16_weights_bottom;
    {
      float* db_below = g + layout.bottom.back().bias_offset;
      StepPhaseScope timed(kBottomReluBackward);
      if (bottom_dy16) {
        layers::relu_backward(rows, d, bottom_act.back().data(), d, dy, lddy, dy16.data(), db_below);
      } else {
        layers::relu_backward(rows, d, bottom_act.back().data(), d, dy, lddy, db_below);
      }
    }
    for (int l = int(layout.bottom.size()) - 1; l >= 0; --l) {
      const auto& L = layout.bottom[size_t(l)];
      const float* x = l == 0 ? batch.numeric : bottom_act[size_t(l) - 1].data();
      const int ldx = l == 0 ? widths.numeric : L.in;
      float* dx = nullptr;
      if (l > 0) {
        dx = other(dy);
        data_gradient(L, false, l, dy, lddy, copy_of(bottom_w16, size_t(l)), bf16_data_bottom, dx);
      }
      weight_gradient_and_update(L, false, l, x, ldx, copy_of(bottom_x16, size_t(l)), dy, lddy,
                                 bf16_weights_bottom, true);
      // After the weight gradient, which still reads dy16: the next layer's dy, its copy and its
      // bias gradient.
      if (l > 0) {
        float* db_below = g + layout.bottom[size_t(l) - 1].bias_offset;
        StepPhaseScope timed(kBottomReluBackward);
        if (bottom_dy16) {
          layers::relu_backward(rows, L.in, bottom_act[size_t(l) - 1].data(), L.in, dx, L.in, dy16.data(), db_below);
        } else {
          layers::relu_backward(rows, L.in, bottom_act[size_t(l) - 1].data(), L.in, dx, L.in, db_below);
        }
      }
      dy = dx;
      lddy = L.in;
    }
    return loss_sum;
  }

  // Calls fn(table, row, summed gradient) once per distinct (table, row) of the batch, table by
  // table, each table's rows in the order of their first example. A multi-hot table's row gets its
  // list's gradient once per occurrence (divided by the list's length for mean pooling). Repeats
  // are summed in example order (RowGradientSums), as a sort by (row, example) would sum them.
  // With `prefetch`, the row and accumulator kUpdateAhead distinct rows later are prefetched for
  // writing, across table boundaries.
  template <typename Fn>
  void for_each_row_grad(const DataView& batch, const EmbeddingStore* prefetch, Fn&& fn) {
    if (criteo_shape) {
      collect_row_grads(batch, CriteoShape{});
    } else {
      collect_row_grads(batch, runtime_shape());
    }
    StepPhaseScope timed(kEmbeddingUpdate);
    const size_t n = row_sums.size();
    // (The prefetches are written out here, not in a helper: GCC takes a function whose only
    // effect is a prefetch for a pure one and deletes its calls.)
    for (size_t u = 0; prefetch != nullptr && u < std::min(n, kUpdateAhead); ++u) {
      __builtin_prefetch(prefetch->row_address(row_sums.table(u), row_sums.row(u)), 1);
      __builtin_prefetch(prefetch->accumulator(row_sums.table(u)) + row_sums.row(u), 1);
    }
    for (size_t u = 0; u < n; ++u) {
      if (prefetch != nullptr && u + kUpdateAhead < n) {
        const size_t a = u + kUpdateAhead;
        __builtin_prefetch(prefetch->row_address(row_sums.table(a), row_sums.row(a)), 1);
        __builtin_prefetch(prefetch->accumulator(row_sums.table(a)) + row_sums.row(a), 1);
      }
      fn(row_sums.table(u), row_sums.row(u), row_sums.grad(u));
    }
  }

  // Fills row_sums with the batch's distinct rows and their summed gradients (read from dt). Its
  // indices were checked by the gather.
  template <typename Shape>
  void collect_row_grads(const DataView& batch, Shape sh) {
    StepPhaseScope timed(kEmbeddingDedup);
    const size_t rows = batch.rows;
    size_t ids = rows * size_t(sh.S);
    for (int m = 0; m < sh.M; ++m) {
      size_t& list_ids = multi_hot_ids[size_t(m)];
      list_ids = 0;
      for (size_t r = 0; r < rows; ++r) list_ids += size_t(batch.bag_end(r, m) - batch.bag_begin(r, m));
      ids += list_ids;
    }
    row_sums.begin_batch(d, ids);
    const size_t stride = size_t(sh.V) * size_t(d);
    for (int table = 0; table < sh.S; ++table) {
      row_sums.begin_table(table, rows);
      const float* src = dt.data() + size_t(sh.first + table) * size_t(d);
      for (size_t r = 0; r < rows; ++r) row_sums.add(batch.sparse[r * sh.S + table], src + r * stride);
    }
    for (int m = 0; m < sh.M; ++m) {
      const int table = sh.S + m;
      row_sums.begin_table(table, multi_hot_ids[size_t(m)]);
      const float* src = dt.data() + size_t(sh.first + table) * size_t(d);
      const bool mean = mean_pooling[size_t(m)];
      for (size_t r = 0; r < rows; ++r) {
        const uint64_t b = batch.bag_begin(r, m), e = batch.bag_end(r, m);
        const float len = float(e - b);
        for (uint64_t i = b; i < e; ++i) {
          if (mean) {
            row_sums.add_divided(batch.bag_ids[i], src + r * stride, len);
          } else {
            row_sums.add(batch.bag_ids[i], src + r * stride);
          }
        }
      }
    }
  }

  void check_batch(const DataView& batch, const char* what) const {
    if (batch.rows > size_t(max_batch)) {
      throw Error(std::string("model: ") + what + " got a batch of " + std::to_string(batch.rows) +
                  " rows, more than this workspace's max batch " + std::to_string(max_batch));
    }
    check_widths(batch, what);
  }
  // Data of other widths than the model's schema (an empty view is never read).
  void check_widths(const DataView& data, const char* what) const {
    if (data.rows == 0) return;
    if (data.widths() != widths) {
      throw Error(std::string("model: ") + what + " got data of widths " + widths_text(data.widths()) +
                  " but the model's schema has " + widths_text(widths));
    }
    if (widths.multi_hot > 0 && data.bag_offsets == nullptr) {
      throw Error(std::string("model: ") + what + " got data without multi-hot lists (bag_offsets) for a schema with " +
                  std::to_string(widths.multi_hot) + " multi_hot columns");
    }
  }
  void check_store(const EmbeddingStore& emb) const {
    if (emb.dim() != d) {
      throw Error("model: embedding store of dim " + std::to_string(emb.dim()) +
                  " used with a model of embedding_dim " + std::to_string(d));
    }
  }
};

ModelWorkspace::ModelWorkspace(const Model& model, int max_batch, Precision precision) {
  if (max_batch < 1) throw Error("model: max batch must be >= 1, got " + std::to_string(max_batch));
  require_precision_supported(precision);
  use_single_threaded_kernels_on_this_thread();
  impl_ = std::make_unique<Impl>(model, max_batch, precision);
}

ModelWorkspace::~ModelWorkspace() = default;

uint64_t ModelWorkspace::bf16_copy_bytes(const Model& model, int max_batch, Precision precision) {
  if (precision != Precision::Bf16) return 0;
  // As Impl allocates them: w16 and x16 per layer, one dy16 for the widest layer output.
  uint64_t halves = 0, widest_out = 0;
  for (const auto* mlp : {&model.layout().bottom, &model.layout().top}) {
    for (const DenseLayout::Layer& l : *mlp) {
      halves += uint64_t(l.out) * uint64_t(l.in) + uint64_t(max_batch) * uint64_t(l.in);
      widest_out = std::max(widest_out, uint64_t(l.out));
    }
  }
  halves += uint64_t(max_batch) * widest_out;
  // dcn: per cross layer W (or V and U), x_l (and h_l); one dp and one dh.
  const uint64_t D = uint64_t(model.config().interaction_width()), r = uint64_t(model.config().cross_rank),
                 b = uint64_t(max_batch);
  for (size_t l = 0; l < model.layout().cross.size(); ++l) {
    halves += (r == 0 ? D * D : 2 * D * r) + b * D + b * r;
  }
  if (!model.layout().cross.empty()) halves += b * D + b * r;
  return halves * sizeof(uint16_t);
}

float ModelWorkspaceTesting::loss_and_gradients_weights_changed(ModelWorkspace& workspace, DataView batch,
                                                                 const float* dense_forward,
                                                                 const float* dense_backward,
                                                                 const EmbeddingStore& embeddings,
                                                                 float* dense_grad) {
  use_single_threaded_kernels_on_this_thread();
  ModelWorkspace::Impl& w = *workspace.impl_;
  w.check_batch(batch, "loss_and_gradients");
  w.check_store(embeddings);
  std::memset(dense_grad, 0, w.layout.total_floats * sizeof(float));
  if (batch.rows == 0) return 0.0f;
  w.forward(batch, dense_forward, embeddings, true);
  const double loss = w.backward(batch, dense_backward, dense_grad, nullptr, nullptr, nullptr, [] {});
  return float(loss / double(batch.rows));
}

int ModelWorkspace::max_batch() const { return impl_->max_batch; }

Precision ModelWorkspace::precision() const { return impl_->precision; }

float ModelWorkspace::train_step(DataView batch, float* dense, float* dense_state,
                                 EmbeddingStore& embeddings, const OptimizerConfig& opt) {
  return train_step(batch, dense, dense_state, embeddings, opt, DataView{});
}

float ModelWorkspace::train_step(DataView batch, float* dense, float* dense_state,
                                 EmbeddingStore& embeddings, const OptimizerConfig& opt, DataView next) {
  use_single_threaded_kernels_on_this_thread();
  Impl& w = *impl_;
  w.check_batch(batch, "train_step");
  w.check_store(embeddings);
  if (batch.rows == 0) return 0.0f;
  if (opt.dense == DenseOptimizer::Adagrad && dense_state == nullptr) {
    throw Error("model: train_step with Adagrad needs the dense optimizer state");
  }
  w.forward(batch, dense, embeddings, true);
  // Row-wise Adagrad on the touched rows (relaxed atomic accesses: shared with other workers).
  const float lr = opt.emb_lr, eps = opt.eps, inv_d = 1.0f / float(w.d);
  const int d = w.d;
  auto update_rows = [&] {
    if (embeddings.format() == RowFormat::Bf16) {
      w.for_each_row_grad(batch, &embeddings, [&](int table, uint32_t row, const float* g) {
        update_embedding_row<uint16_t>(embeddings, table, row, g, d, lr, eps, inv_d);
      });
    } else {
      w.for_each_row_grad(batch, &embeddings, [&](int table, uint32_t row, const float* g) {
        update_embedding_row<float>(embeddings, table, row, g, d, lr, eps, inv_d);
      });
    }
  };
  // A next batch of other widths is not prefetched (its step will refuse it).
  const bool prefetchable = next.rows > 0 && next.widths() == w.widths &&
                            (w.widths.multi_hot == 0 || next.bag_offsets != nullptr);
  w.prefetch_next = prefetchable ? &next : nullptr;
  w.prefetch_store = &embeddings;
  const double loss = w.backward(batch, dense, w.grad.data(), dense, dense_state, &opt, update_rows);
  w.prefetch_next = nullptr;
  return float(loss / double(batch.rows));
}

void ModelWorkspace::predict_logits(DataView data, const float* dense,
                                    const EmbeddingStore& embeddings, float* logits_out) {
  use_single_threaded_kernels_on_this_thread();
  Impl& w = *impl_;
  w.check_store(embeddings);
  w.check_widths(data, "predict_logits");
  for (size_t begin = 0; begin < data.rows; begin += size_t(w.max_batch)) {
    const size_t end = std::min(data.rows, begin + size_t(w.max_batch));
    w.forward(data.slice(begin, end), dense, embeddings, false);
    std::copy(w.top_act.back().data(), w.top_act.back().data() + (end - begin), logits_out + begin);
  }
}

float ModelWorkspace::loss_and_gradients(DataView batch, const float* dense,
                                         const EmbeddingStore& embeddings, float* dense_grad,
                                         std::vector<SparseRowGrad>* emb_grads) {
  use_single_threaded_kernels_on_this_thread();
  Impl& w = *impl_;
  w.check_batch(batch, "loss_and_gradients");
  w.check_store(embeddings);
  std::memset(dense_grad, 0, w.layout.total_floats * sizeof(float));
  if (emb_grads != nullptr) emb_grads->clear();
  if (batch.rows == 0) return 0.0f;
  w.forward(batch, dense, embeddings, true);
  const double loss = w.backward(batch, dense, dense_grad, nullptr, nullptr, nullptr, [] {});
  if (emb_grads != nullptr) {
    w.for_each_row_grad(batch, nullptr, [&](int table, uint32_t row, const float* g) {
      emb_grads->push_back(SparseRowGrad{table, row, std::vector<float>(g, g + w.d)});
    });
    std::sort(emb_grads->begin(), emb_grads->end(), [](const SparseRowGrad& a, const SparseRowGrad& b) {
      return a.table != b.table ? a.table < b.table : a.row < b.row;
    });
  }
  return float(loss / double(batch.rows));
}

}  // namespace shadowsync
