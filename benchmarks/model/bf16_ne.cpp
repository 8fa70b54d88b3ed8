// BF16 GEMM inputs against fp32 on real (or generated) data: trains the model one pass over the
// first 90 % of a binary cache with each precision from the same initialization (batch 128, one
// thread, default optimizers) and prints each one's NE on the last 10 % and its training
// examples/s, with the machine line. Usage: bf16_ne CACHE [MODEL (default kaggle)]
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "model/kernel_choice.hpp"
#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync {
namespace {

struct Outcome {
  double ne = 0, examples_per_second = 0;
};

Outcome train_and_evaluate(const ModelConfig& config, const DataView& train, const DataView& eval) {
  const Model model(config);
  const size_t floats = model.layout().total_floats;
  AlignedFloatBuffer dense(floats), state(floats);
  std::fill(state.data(), state.data() + floats, 0.0f);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_dense(dense.data(), 1);
  model.init_embeddings(store, 1);
  constexpr size_t kBatch = 128;
  ModelWorkspace workspace(model, int(kBatch));
  const OptimizerConfig opt;
  const auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < train.rows; begin += kBatch) {
    workspace.train_step(train.slice(begin, std::min(train.rows, begin + kBatch)), dense.data(), state.data(), store,
                         opt);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<float> logits(eval.rows);
  workspace.predict_logits(eval, dense.data(), store, logits.data());
  BinaryMetrics metrics;
  metrics.add_logits(logits.data(), eval.labels, eval.rows);
  return Outcome{metrics.ne(), double(train.rows) / seconds};
}

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  using namespace shadowsync;
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bf16_ne CACHE [MODEL]\n");
    return 2;
  }
  try {
    const MachineFacts facts = machine_facts();
    std::printf("machine: %s\n", facts.summary().c_str());
    if (!facts.avx512_bf16 && !facts.amx_bf16) {
      std::printf("bf16_ne: skipped: this CPU has neither AVX512_BF16 nor AMX\n");
      return 0;
    }
    const std::string path = argv[1];
    const auto hashing = read_cache_hashing(path);
    if (!hashing) throw Error(path + ": not a binary cache");
    const MappedCache cache = MappedCache::open(path, *hashing);
    const ModelConfig config = ModelConfig::resolve(argc == 3 ? argv[2] : "kaggle", *hashing);
    const DataView all = cache.view();
    const size_t split = all.rows - all.rows / 10;
    const DataView train = all.slice(0, split), eval = all.slice(split, all.rows);
    kernel_choice().bf16_gemms = false;
    const Outcome fp32 = train_and_evaluate(config, train, eval);
    kernel_choice().bf16_gemms = true;
    const Outcome bf16 = train_and_evaluate(config, train, eval);
    std::printf("rows %zu train, %zu eval\n", train.rows, eval.rows);
    std::printf("fp32: NE %.5f, %.0f examples/s\n", fp32.ne, fp32.examples_per_second);
    std::printf("bf16: NE %.5f, %.0f examples/s\n", bf16.ne, bf16.examples_per_second);
    std::printf("bf16 vs fp32: NE %+.3f %%, speed %.2fx\n", 100.0 * (bf16.ne / fp32.ne - 1.0),
                bf16.examples_per_second / fp32.examples_per_second);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bf16_ne: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
