// BF16 GEMM inputs against fp32 on real (or generated) data: for each initialization seed,
// trains the model one pass over the first 90 % of a binary cache in fp32 and in bf16 (every
// GEMM with BF16 inputs; same initialization, batch 128, one thread, default optimizers), and
// prints each run's NE on the last 10 % (evaluated in fp32) and training examples/s, then the
// mean (with its standard error) and min-max over seeds of the NE change against fp32. (The
// control and the partial variants of docs/precision.md were measured with alternative kernels
// that have since been removed.) Speed here is a rough
// sign only: benchmarks/model's BM_KaggleLeverPair measures it alternating in one run.
// Usage: bf16_ne CACHE [MODEL (default kaggle) [SEEDS (default 3)]]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"
#include "shadowsync/core/error.hpp"
#include "shadowsync/data/binary_cache.hpp"
#include "shadowsync/metrics/binary_metrics.hpp"
#include "shadowsync/model/machine_facts.hpp"
#include "shadowsync/model/model.hpp"
#include "shadowsync/model/model_workspace.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync {
namespace {

struct Outcome {
  double ne = 0, examples_per_second = 0;
};

struct Variant {
  const char* name;
  Precision precision;
};

const std::vector<Variant> kVariants = {
    {"bf16:all", Precision::Bf16},
};

Outcome train_and_evaluate(const ModelConfig& config, const DataView& train, const DataView& eval, Precision precision,
                           uint64_t seed) {
  const Model model(config);
  const size_t floats = model.layout().total_floats;
  AlignedFloatBuffer dense(floats), state(floats);
  std::fill(state.data(), state.data() + floats, 0.0f);
  EmbeddingStore store(config.hashing, config.embedding_dim);
  model.init_dense(dense.data(), seed);
  model.init_embeddings(store, seed);
  constexpr size_t kBatch = 128;
  ModelWorkspace workspace(model, int(kBatch), precision);
  const OptimizerConfig opt;
  const auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < train.rows; begin += kBatch) {
    workspace.train_step(train.slice(begin, std::min(train.rows, begin + kBatch)), dense.data(), state.data(), store,
                         opt);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<float> logits(eval.rows);
  ModelWorkspace evaluator(model, int(kBatch));  // fp32, as the trainer evaluates
  evaluator.predict_logits(eval, dense.data(), store, logits.data());
  BinaryMetrics metrics;
  metrics.add_logits(logits.data(), eval.labels, eval.rows);
  return Outcome{metrics.ne(), double(train.rows) / seconds};
}

}  // namespace
}  // namespace shadowsync

int main(int argc, char** argv) {
  using namespace shadowsync;
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: bf16_ne CACHE [MODEL [SEEDS]]\n");
    return 2;
  }
  try {
    const MachineFacts facts = machine_facts();
    std::printf("machine: %s\n", facts.summary().c_str());
    if (const std::string why = precision_unsupported_reason(Precision::Bf16, facts); !why.empty()) {
      std::printf("bf16_ne: skipped: %s\n", why.c_str());
      return 0;
    }
    const std::string path = argv[1];
    const int seeds = argc == 4 ? std::stoi(argv[3]) : 3;
    const auto hashing = read_cache_hashing(path);
    if (!hashing) throw Error(path + ": not a binary cache");
    const MappedCache cache = MappedCache::open(path, *hashing);
    const ModelConfig config = ModelConfig::resolve(argc >= 3 ? argv[2] : "kaggle", *hashing);
    const DataView all = cache.view();
    const size_t split = all.rows - all.rows / 10;
    const DataView train = all.slice(0, split), eval = all.slice(split, all.rows);
    std::printf("rows %zu train, %zu eval\n", train.rows, eval.rows);
    std::vector<std::vector<double>> change(kVariants.size()), speedup(kVariants.size());
    for (int seed = 1; seed <= seeds; ++seed) {
      const Outcome fp32 = train_and_evaluate(config, train, eval, Precision::Fp32, uint64_t(seed));
      std::printf("seed %d fp32: NE %.5f, %.0f examples/s\n", seed, fp32.ne, fp32.examples_per_second);
      for (size_t v = 0; v < kVariants.size(); ++v) {
        const Outcome bf16 = train_and_evaluate(config, train, eval, kVariants[v].precision, uint64_t(seed));
        change[v].push_back(100.0 * (bf16.ne / fp32.ne - 1.0));
        speedup[v].push_back(bf16.examples_per_second / fp32.examples_per_second);
        std::printf("seed %d %-13s NE %.5f (%+.3f %%), %.0f examples/s (%.2fx)\n", seed, kVariants[v].name,
                    bf16.ne, change[v].back(), bf16.examples_per_second, speedup[v].back());
      }
      std::fflush(stdout);
    }
    for (size_t v = 0; v < kVariants.size(); ++v) {
      auto mean = [](const std::vector<double>& x) {
        double s = 0;
        for (double e : x) s += e;
        return s / double(x.size());
      };
      const auto [lo, hi] = std::minmax_element(change[v].begin(), change[v].end());
      double spread = 0;  // standard error of the mean change
      for (double e : change[v]) spread += (e - mean(change[v])) * (e - mean(change[v]));
      spread = seeds > 1 ? std::sqrt(spread / double(seeds - 1) / double(seeds)) : 0.0;
      std::printf("variant %-13s NE change vs fp32: mean %+.3f %% +- %.3f (min %+.3f, max %+.3f) over %d seeds; "
                  "speed %.2fx\n",
                  kVariants[v].name, mean(change[v]), spread, *lo, *hi, seeds, mean(speedup[v]));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bf16_ne: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
