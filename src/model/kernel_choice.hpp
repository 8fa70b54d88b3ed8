// Which measured alternative each model kernel uses (benchmarks/model compares them in one run).
// The defaults are the ones benchmarks/model found fastest; tests and training never change them.
#pragma once

namespace shadowsync {

struct KernelChoice {
  // Weight gradient and its optimizer update in blocks of output rows (about 64 KiB of gradient
  // each), so the update reads the gradient block while it is still in L2; false: the whole
  // layer's gradient first, then the update.
  bool blocked_weight_update = true;
  // GEMMs through cached oneDNN matmul primitives (one per shape and thread) instead of
  // dnnl_sgemm.
  bool matmul_primitives = false;
};

// The process-wide choice. Change it only while no step runs (benchmarks set it between runs).
KernelChoice& kernel_choice();

}  // namespace shadowsync
