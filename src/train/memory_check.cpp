// check_memory_fits: an estimate of a run's memory against /proc/meminfo and the process's
// cgroup memory limit (see memory_check.hpp).
#include "train/memory_check.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "shadowsync/core/error.hpp"
#include "shadowsync/model/embedding_store.hpp"
#include "shadowsync/model/model_workspace.hpp"

namespace shadowsync::train {
namespace {

// Bytes of memory available on the machine: MemAvailable + SwapFree from /proc/meminfo (0 when
// unknown).
uint64_t machine_available_bytes() {
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

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The first unsigned number in `text` ("max" or anything else: nullopt).
std::optional<uint64_t> leading_number(const std::string& text) {
  uint64_t value = 0;
  const char* b = text.data();
  const auto [end, ec] = std::from_chars(b, b + text.size(), value);
  if (ec != std::errc() || end == b) return std::nullopt;
  return value;
}

void keep_smaller(std::optional<uint64_t>& limit, std::optional<uint64_t> candidate) {
  if (candidate && (!limit || *candidate < *limit)) limit = candidate;
}

}  // namespace

std::optional<uint64_t> cgroup_memory_limit(const std::string& cgroup_root, const std::string& self_cgroup) {
  std::ifstream in(self_cgroup);
  std::optional<uint64_t> limit;
  std::string line;
  while (std::getline(in, line)) {
    // "ID:CONTROLLERS:PATH": v1 lists its controllers ("4:memory:/a/b"), v2 has ID 0 and none.
    const size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::filesystem::path path = std::filesystem::path(line.substr(second + 1)).relative_path();
    bool memory_v1 = false;
    for (size_t at = 0; at <= controllers.size();) {
      const size_t comma = std::min(controllers.find(',', at), controllers.size());
      memory_v1 = memory_v1 || controllers.substr(at, comma - at) == "memory";
      at = comma + 1;
    }
    if (memory_v1) {
      // v1: the limit of this group and its ancestors (memory.stat's hierarchical_memory_limit).
      const std::string stat = read_text(std::filesystem::path(cgroup_root) / "memory" / path / "memory.stat");
      const size_t at = stat.find("hierarchical_memory_limit ");
      if (at != std::string::npos) {
        keep_smaller(limit, leading_number(stat.substr(at + std::strlen("hierarchical_memory_limit "))));
      }
      keep_smaller(limit, leading_number(read_text(std::filesystem::path(cgroup_root) / "memory" / path /
                                                   "memory.limit_in_bytes")));
    } else if (line.compare(0, 3, "0::") == 0) {
      // v2 (unified at the root, or under unified/ on a hybrid machine): memory.max of the group
      // and of each ancestor.
      for (const char* mount : {"", "unified"}) {
        for (std::filesystem::path p = path;; p = p.parent_path()) {
          keep_smaller(limit, leading_number(read_text(std::filesystem::path(cgroup_root) / mount / p / "memory.max")));
          if (p.empty() || p == p.parent_path()) break;
        }
      }
    }
  }
  // v1 spells "no limit" as a number near 2^63.
  if (limit && *limit >= (uint64_t{1} << 62)) return std::nullopt;
  return limit;
}

namespace {

constexpr uint64_t kRuntimeBytes = uint64_t{64} << 20;

struct Available {
  uint64_t bytes = 0;  // 0: unknown
  bool cgroup = false;  // the cgroup's limit, not the machine's free memory, is the bound
};

// Memory available to this process: the machine's (MemAvailable + SwapFree), or its cgroup's
// memory limit when that is smaller (a container's limit is where the kernel kills it).
Available available_memory() {
  const uint64_t machine = machine_available_bytes();
  const std::optional<uint64_t> cgroup = cgroup_memory_limit("/sys/fs/cgroup", "/proc/self/cgroup");
  if (cgroup && (machine == 0 || *cgroup < machine)) return {*cgroup, true};
  return {machine, false};
}

// Anonymous memory this process already holds (RssAnon of /proc/self/status: libraries' heaps,
// parsed data; not the page cache of mapped files), which counts against a cgroup's limit too.
uint64_t resident_anonymous_bytes() {
  const std::string status = read_text("/proc/self/status");
  const size_t at = status.find("RssAnon:");
  if (at == std::string::npos) return 0;
  size_t digits = at + std::strlen("RssAnon:");
  while (digits < status.size() && status[digits] == ' ') ++digits;
  return leading_number(status.substr(digits)).value_or(0) * 1024;
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
  const uint64_t vectors = static_cast<uint64_t>(interaction_vectors(model.config().schema));
  // dcn: per cross layer its output x_{l+1} and p_l (D each) and, low rank, h_l (r); three
  // D-wide gradient buffers and one r-wide (ModelWorkspace's cross_* buffers).
  uint64_t cross = 0;
  if (!layout.cross.empty()) {
    const uint64_t D = static_cast<uint64_t>(model.config().interaction_width());
    const uint64_t r = static_cast<uint64_t>(model.config().cross_rank);
    cross = static_cast<uint64_t>(layout.cross.size()) * (2 * D + r) + 3 * D + r;
  }
  const uint64_t per_example = activations + 2 * vectors * d + widest * 3 + 2 + cross;
  return batch * per_example + layout.total_floats;
}

}  // namespace

uint64_t embedding_table_bytes(const ModelConfig& config, RowFormat rows) {
  const int stride = EmbeddingStore::stride_for_dim(config.embedding_dim);
  uint64_t bytes = 0;
  for (int t = 0; t < config.hashing.tables(); ++t) {
    const uint64_t n = config.hashing.rows[static_cast<size_t>(t)];
    bytes += (EmbeddingStore::words_for(n, stride, rows) + n) * sizeof(float);  // rows + accumulators
  }
  return bytes;
}

int interaction_vectors(const FeatureSchema& schema) {
  return (schema.numeric_count() > 0 ? 1 : 0) + schema.categorical_count() + schema.multi_hot_count();
}

uint64_t workspace_bytes(const Model& model, int batch, Precision precision) {
  return workspace_floats(model, static_cast<uint64_t>(batch)) * sizeof(float) +
         ModelWorkspace::bf16_copy_bytes(model, batch, precision);
}

void check_memory_fits(const Model& model, uint64_t replicas, uint64_t workers, int batch, RowFormat rows,
                       Precision precision) {
  const ModelConfig& config = model.config();
  const uint64_t dense_floats = model.layout().total_floats;
  const uint64_t table_bytes = embedding_table_bytes(config, rows);
  const uint64_t worker_bytes = workspace_bytes(model, batch, precision);
  const uint64_t needed = replicas * 2 * dense_floats * sizeof(float) + table_bytes + workers * worker_bytes;
  const Available available = available_memory();
  // Against a cgroup's limit, what the process already holds counts too (the machine's
  // MemAvailable has it subtracted already).
  // The runtime beside the model (oneDNN, oneTBB and OpenMP threads and their buffers, evaluation
  // logits; measured about 50 MiB for the kaggle preset on 2 cores) is allowed for as 64 MiB.
  const uint64_t held = available.cgroup ? resident_anonymous_bytes() + kRuntimeBytes : 0;
  if (available.bytes > 0 && needed + held > available.bytes) {
    throw Error(fmt::format("not enough memory: this run needs about {:.2f} GiB (embedding tables {:.2f} GiB: {} "
                            "tables from {} / {}; {} worker buffers of {:.2f} GiB each from {} {}), and {:.2f} GiB "
                            "are available{}",
                            static_cast<double>(needed) / (1 << 30), static_cast<double>(table_bytes) / (1 << 30),
                            config.hashing.tables(), field("rows_per_table"),
                            field("model"), workers, static_cast<double>(worker_bytes) / (1 << 30), field("batch"),
                            batch, static_cast<double>(available.bytes - std::min(held, available.bytes)) / (1 << 30),
                            available.cgroup ? fmt::format(" (this process's cgroup memory limit of {:.2f} GiB, "
                                                           "less {:.2f} GiB it holds or its runtime needs)",
                                                           static_cast<double>(available.bytes) / (1 << 30),
                                                           static_cast<double>(held) / (1 << 30))
                                             : ""));
  }
}

}  // namespace shadowsync::train
