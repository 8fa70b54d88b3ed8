// A check, before anything is allocated or any thread starts, that a run fits in the memory
// available (MemAvailable + SwapFree): replicas and optimizer state, embedding tables, and one
// workspace per worker (with its BF16 copies for bf16 runs). Refuses hopeless sizes with a
// message naming what makes them large.
#pragma once

#include <cstdint>

#include "shadowsync/model/model.hpp"
#include "shadowsync/model/precision.hpp"

namespace shadowsync::train {

// Bytes one worker's ModelWorkspace holds for `batch` examples at `precision`: its fp32 buffers
// (activations, gradients, interaction, dense gradient scratch; an estimate from the layer
// shapes) plus, for bf16, its BF16 copies (ModelWorkspace::bf16_copy_bytes).
uint64_t workspace_bytes(const Model& model, int batch, Precision precision);

// Throws Error when `replicas` replicas (with optimizer state), the tables of `model` and
// `workers` workspaces for `batch` examples at `precision` need more than the memory available.
// No-op when /proc/meminfo cannot be read.
void check_memory_fits(const Model& model, uint64_t replicas, uint64_t workers, int batch,
                       Precision precision = Precision::Fp32);

}  // namespace shadowsync::train
