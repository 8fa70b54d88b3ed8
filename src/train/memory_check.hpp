// A check, before anything is allocated or any thread starts, that a run fits in the memory
// available (MemAvailable + SwapFree, or the process's cgroup memory limit when smaller): replicas and optimizer state, embedding tables, and one
// workspace per worker (with its BF16 copies for bf16 runs). Refuses hopeless sizes with a
// message naming what makes them large.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "shadowsync/model/model.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync::train {

// Bytes one worker's ModelWorkspace holds for `batch` examples at `precision`: its fp32 buffers
// (activations, gradients, interaction, dense gradient scratch; an estimate from the layer
// shapes) plus, for bf16, its BF16 copies (ModelWorkspace::bf16_copy_bytes).
uint64_t workspace_bytes(const Model& model, int batch, Precision precision);

// Bytes of the embedding tables of `config` and their accumulators: for each table t of its
// schema, hashing.rows[t] rows of EmbeddingStore::stride_for_dim(embedding_dim) elements (floats,
// or BF16 halves for `rows` bf16; a table rounded up to whole 4-byte words) plus one accumulator
// float (what EmbeddingStore allocates, tables of any count).
uint64_t embedding_table_bytes(const ModelConfig& config, RowFormat rows = RowFormat::Fp32);

// Vectors the interaction of one example reads, V = (N > 0 ? 1 : 0) + S + M for a schema with N
// numeric, S categorical and M multi-hot columns (27 for Criteo's layout): the per-example
// activations of a workspace grow with V (each vector and its gradient, 2 V d floats).
int interaction_vectors(const FeatureSchema& schema);

// Throws Error when `replicas` replicas (with optimizer state), the tables of `model` and
// `workers` workspaces for `batch` examples at `precision` need more than the memory available.
// No-op when neither /proc/meminfo nor a cgroup limit can be read.
void check_memory_fits(const Model& model, uint64_t replicas, uint64_t workers, int batch, RowFormat rows,
                       Precision precision = Precision::Fp32);

// The memory limit of the cgroups this process is in, read from `self_cgroup` (the format of
// /proc/self/cgroup) under `cgroup_root` (/sys/fs/cgroup): cgroup v1's memory controller
// (memory.limit_in_bytes and memory.stat's hierarchical_memory_limit) or cgroup v2's memory.max
// of the group and its ancestors (at the root or under unified/). The smallest one found;
// nullopt when there is none ("max", v1's near-2^63 "unlimited", or nothing readable).
std::optional<uint64_t> cgroup_memory_limit(const std::string& cgroup_root, const std::string& self_cgroup);

}  // namespace shadowsync::train
