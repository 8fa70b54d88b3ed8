// Timing points inside ModelWorkspace::train_step: the phases of the real step, for
// benchmarks/model/step_phases_bench. They exist only where SHADOWSYNC_STEP_PHASES is defined (the
// benchmark builds its own copy of model_workspace.cpp with it); in the library a StepPhaseScope
// is an empty object and the step has no timing code at all.
#pragma once

namespace shadowsync {

// The phases of one fp32 step, in the order train_step runs them (a phase may recur: once per
// layer).
enum StepPhase : int {
  kBottomForwardGemm,
  kBottomForwardEpilogue,  // bias + ReLU
  kGather,
  kInteractionForward,
  kCrossForwardGemm,      // dcn: per cross layer, x W^T (low rank: x V^T, then h U^T)
  kCrossForwardEpilogue,  // dcn: + b, then x0 * p + x
  kTopForwardGemm,
  kTopForwardEpilogue,
  kLoss,
  kTopBackwardDataGemm,
  kTopReluBackward,
  kTopWeightGemm,
  kTopBiasGradient,
  kTopAdagrad,  // the layer's dense optimizer update (Adagrad by default, or SGD)
  kCrossBackwardElementwise,  // dcn: dp = g * x0, dx0 += g * p, dx = g + ...
  kCrossBackwardDataGemm,     // dcn: dp W (low rank: dp U, then dh V)
  kCrossWeightGemm,           // dcn: dp^T x (low rank: dp^T h and dh^T x)
  kCrossBiasGradient,
  kCrossAdagrad,
  kInteractionBackward,
  kEmbeddingDedup,   // the batch's distinct rows per table and their summed gradients
  kEmbeddingUpdate,  // per distinct row: row-wise Adagrad (prefetching a later row)
  kBottomReluBackward,
  kBottomBackwardDataGemm,
  kBottomWeightGemm,
  kBottomBiasGradient,
  kBottomAdagrad,
  kBf16Convert,  // bf16: the weights' and layer inputs' BF16 copies made apart from a kernel
  kStepPhases
};
inline constexpr const char* kStepPhaseNames[kStepPhases] = {
    "bottom_fwd_gemm", "bottom_fwd_bias_relu", "gather", "interaction_fwd", "cross_fwd_gemm",
    "cross_fwd_bias_combine", "top_fwd_gemm", "top_fwd_bias_relu", "loss", "top_bwd_data_gemm",
    "top_relu_bwd", "top_weight_gemm", "top_bias_grad", "top_adagrad", "cross_bwd_elementwise",
    "cross_bwd_data_gemm", "cross_weight_gemm", "cross_bias_grad", "cross_adagrad", "interaction_bwd",
    "emb_dedup", "emb_rowwise_adagrad", "bottom_relu_bwd", "bottom_bwd_data_gemm", "bottom_weight_gemm",
    "bottom_bias_grad", "bottom_adagrad", "bf16_convert"};

#ifdef SHADOWSYNC_STEP_PHASES

// Receives the time of each phase of the steps its thread runs while it is installed.
class StepPhaseTimer {
 public:
  virtual ~StepPhaseTimer() = default;
  // `seconds` (steady clock) of one run of `phase`; `layer`: the MLP layer of a GEMM phase, else -1.
  virtual void add(StepPhase phase, int layer, double seconds) = 0;
};

// This thread's timer (null: the steps run untimed, each point costing one test).
StepPhaseTimer*& step_phase_timer();

// Times its own lifetime as one run of `phase` for this thread's timer, if any.
class StepPhaseScope {
 public:
  explicit StepPhaseScope(StepPhase phase, int layer = -1);
  ~StepPhaseScope();
  StepPhaseScope(const StepPhaseScope&) = delete;
  StepPhaseScope& operator=(const StepPhaseScope&) = delete;

 private:
  StepPhaseTimer* timer_;
  StepPhase phase_;
  int layer_;
  long long start_ns_ = 0;
};

#else

class [[maybe_unused]] StepPhaseScope {
 public:
  constexpr explicit StepPhaseScope(StepPhase, int = -1) noexcept {}
};

#endif

}  // namespace shadowsync
