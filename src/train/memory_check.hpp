// A check, before anything is allocated or any thread starts, that a run fits in the memory
// available (MemAvailable + SwapFree): replicas and optimizer state, embedding tables, and one
// workspace per worker. Refuses hopeless sizes with a message naming what makes them large.
#pragma once

#include <cstdint>

#include "shadowsync/model/model.hpp"

namespace shadowsync::train {

// Throws Error when `replicas` replicas (with optimizer state), the tables of `model` and
// `workers` workspaces for `batch` examples need more than the memory available. No-op when
// /proc/meminfo cannot be read.
void check_memory_fits(const Model& model, uint64_t replicas, uint64_t workers, int batch);

}  // namespace shadowsync::train
