// Kernel threading: a worker thread running train_step must keep oneDNN single-threaded (no
// OpenMP team) while OMP_NUM_THREADS=2 (tests/meson.build) would otherwise give it a team of 2.
#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "reference.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "model/kernel_threading.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

int threads_in_process() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST(KernelThreading, TrainStepOnAFreshThreadStartsNoOpenMpTeam) {
  const int main_max = omp_get_max_threads();
  const ModelConfig config = ModelConfig::preset("kaggle", HashingConfig::uniform(100));
  const Model model(config);
  AlignedFloatBuffer dense(model.layout().total_floats), state(model.layout().total_floats);
  model.init_dense(dense.data(), 1);
  EmbeddingStore store(config.hashing, 16);
  model.init_embeddings(store, 1);
  const test::Batch batch = test::random_batch(256, config.hashing, 1);

  const int before = threads_in_process();
  int worker_max = -1, during = -1;
  std::thread worker([&] {
    ModelWorkspace workspace(model, 256);
    workspace.train_step(batch.view(), dense.data(), state.data(), store, OptimizerConfig{});
    worker_max = omp_get_max_threads();
    during = threads_in_process();
  });
  worker.join();
  EXPECT_EQ(worker_max, 1);
  EXPECT_EQ(during, before + 1);            // only the worker itself
  EXPECT_EQ(omp_get_max_threads(), main_max);  // the main thread's setting is untouched

  // Control: the same count does see a team when a fresh thread runs a large GEMM without the
  // call, so the check above can fail.
  if (main_max >= 2) {
    const int n = 512;
    std::vector<float> a(size_t(n) * n, 1.0f), c(size_t(n) * n);
    std::thread control([&] {
      dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, a.data(), n, 0.0f, c.data(), n);
      during = threads_in_process();
    });
    control.join();
    EXPECT_GT(during, before + 1);
    EXPECT_FLOAT_EQ(c[0], float(n));
  }
}

TEST(KernelThreading, IsIdempotentAndPerThread) {
  const int main_max = omp_get_max_threads();
  int first = -1, second = -1;
  std::thread t([&] {
    use_single_threaded_kernels_on_this_thread();
    first = omp_get_max_threads();
    use_single_threaded_kernels_on_this_thread();
    second = omp_get_max_threads();
  });
  t.join();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(omp_get_max_threads(), main_max);
}

}  // namespace
}  // namespace shadowsync
