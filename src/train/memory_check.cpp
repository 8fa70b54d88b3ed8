// check_memory_fits: an estimate of a run's memory against /proc/meminfo (see memory_check.hpp).
#include "train/memory_check.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync::train {
namespace {

// Bytes of memory available to this process: MemAvailable + SwapFree from /proc/meminfo
// (0 when unknown, which disables the check).
uint64_t available_memory_bytes() {
  std::FILE* meminfo = std::fopen("/proc/meminfo", "r");
  if (meminfo == nullptr) return 0;
  uint64_t total_kib = 0;
  char name[64];
  unsigned long long kib = 0;
  while (std::fscanf(meminfo, "%63s %llu kB", name, &kib) == 2) {
    if (std::strcmp(name, "MemAvailable:") == 0 || std::strcmp(name, "SwapFree:") == 0) total_kib += kib;
  }
  std::fclose(meminfo);
  return total_kib * 1024;
}

// Floats one ModelWorkspace holds for `batch` (its fp32 buffers, see model_workspace.cpp; an
// estimate used only to refuse hopeless sizes).
uint64_t workspace_floats(const Model& model, uint64_t batch) {
  const DenseLayout& layout = model.layout();
  const uint64_t d = static_cast<uint64_t>(model.config().embedding_dim);
  uint64_t widest = static_cast<uint64_t>(model.config().interaction_width());
  uint64_t activations = 0;
  for (const auto* layers : {&layout.bottom, &layout.top}) {
    for (const DenseLayout::Layer& l : *layers) {
      activations += static_cast<uint64_t>(l.out);
      widest = std::max({widest, static_cast<uint64_t>(l.in), static_cast<uint64_t>(l.out)});
    }
  }
  const uint64_t per_example = activations + 2 * (kNumSparse + 1) * d + widest * 3 + 2;
  return batch * per_example + layout.total_floats;
}

}  // namespace

uint64_t workspace_bytes(const Model& model, int batch, Precision precision) {
  return workspace_floats(model, static_cast<uint64_t>(batch)) * sizeof(float) +
         ModelWorkspace::bf16_copy_bytes(model, batch, precision);
}

void check_memory_fits(const Model& model, uint64_t replicas, uint64_t workers, int batch, Precision precision) {
  const ModelConfig& config = model.config();
  const uint64_t dense_floats = model.layout().total_floats;
  uint64_t embedding_floats = 0;
  for (const uint32_t rows : config.hashing.rows) {
    embedding_floats += static_cast<uint64_t>(rows) * (static_cast<uint64_t>(config.embedding_dim) + 1);
  }
  const uint64_t worker_bytes = workspace_bytes(model, batch, precision);
  const uint64_t needed = (replicas * 2 * dense_floats + embedding_floats) * sizeof(float) + workers * worker_bytes;
  const uint64_t available = available_memory_bytes();
  if (available > 0 && needed > available) {
    throw Error(fmt::format("not enough memory: this run needs about {:.2f} GiB (embedding tables {:.2f} GiB from "
                            "{} / {}; {} worker buffers of {:.2f} GiB each from {} {}), and {:.2f} GiB are available",
                            static_cast<double>(needed) / (1 << 30),
                            static_cast<double>(embedding_floats * sizeof(float)) / (1 << 30), field("rows_per_table"),
                            field("model"), workers, static_cast<double>(worker_bytes) / (1 << 30), field("batch"),
                            batch, static_cast<double>(available) / (1 << 30)));
  }
}

}  // namespace shadowsync::train
