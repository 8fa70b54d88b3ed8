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
  // Experimental, for benchmarks/model only: GEMM inputs rounded to BF16 (cached BF16 matmul
  // primitives, fp32 results, fp32 weights and optimizer state). Needs AVX512_BF16 or AMX.
  bool bf16_gemms = false;
};

// The process-wide choice. Change it only while no step runs (benchmarks set it between runs).
KernelChoice& kernel_choice();

}  // namespace shadowsync
