// Which measured alternative each model kernel uses (benchmarks/model compares them in one run).
// The defaults are the ones benchmarks/model found fastest (BM_KaggleLeverPair: each alternative
// against the default, alternating every 16 steps in one run; docs/results.md has the figures);
// tests and training never change them.
#pragma once

namespace shadowsync {

struct KernelChoice {
  // Weight gradient and its optimizer update in blocks of output rows (about 64 KiB of gradient
  // each), so the update reads the gradient block while it is still in L2; false: the whole
  // layer's gradient first, then the update. Measured 1 to 4 % slower than the whole-layer update
  // for kaggle at batch 64 to 1024 (smaller GEMMs), so off.
  bool blocked_weight_update = false;
  // GEMMs through cached oneDNN matmul primitives (one per shape and thread) instead of
  // dnnl_sgemm. Measured 2 to 7 % slower than dnnl_sgemm at batch 64, 128 and 1024 (within noise
  // at 256), so off.
  bool matmul_primitives = false;
};

// Which GEMMs a Precision::Bf16 workspace runs with BF16 inputs (cached BF16 matmul primitives,
// fp32 accumulation and results; weights, gradients and optimizer state stay fp32). fp32
// workspaces ignore it. The default is the measured trade-off of docs/precision.md;
// benchmarks/model compares the others.
struct Bf16Gemms {
  bool forward = true;           // y = x w^T
  bool backward_data = true;     // dx = dy w
  bool backward_weights = true;  // dw = dy^T x
  bool bottom_mlp = true;        // false: only the top MLP's GEMMs (the bottom MLP's stay fp32)
};

// The process-wide BF16 choice. Change it only while no step runs (benchmarks and tests).
Bf16Gemms& bf16_gemms();

// The process-wide choice. Change it only while no step runs (benchmarks set it between runs).
KernelChoice& kernel_choice();

}  // namespace shadowsync
