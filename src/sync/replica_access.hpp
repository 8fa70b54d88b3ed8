// The only code that touches replica memory shared with Hogwild workers (see the memory model in
// include/shadowsync/sync/sync_rule.hpp): a vectorized read of a replica range into private scratch,
// and a vectorized read-modify-write that adds private deltas to a replica range.
//
// Benign race, documented here once: workers store floats into the same replicas concurrently.
// On x86 the SIMD loads/stores below are explicit intrinsics (never turned into memcpy / rep
// movs, never split below a float); each 4-byte float lane of a vector
// access is naturally aligned and therefore single-copy atomic, so a racing vector access sees or
// leaves, per element, a whole old or a whole new float. Scalar heads/tails and non-x86 targets
// use std::atomic_ref<float> with relaxed order. update_replica() loads, adds and stores: a worker
// store landing between that load and that store reaching the cache (nanoseconds, up to a few
// hundred when the line has to come back from the worker's core) is lost, as Hogwild updates can
// be lost among workers; anything written before the load is kept (the stress test in
// tests/sync measures about 0.01 % lost against about 45 % for an overwrite rule). The load is
// always a fresh one: compiler_barrier() keeps the compiler from reusing the snapshot's loads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shadowsync/sync/rule_step.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SHADOWSYNC_SYNC_X86 1
#endif

namespace shadowsync::sync_detail {

// Tells the compiler that memory may have changed (no instruction emitted). Without it, the
// compiler may legally reuse the values the snapshot loaded from a replica instead of loading the
// replica again in the write-back (plain SIMD loads can be merged like any other load), which
// would turn the delta rule into an overwrite and lose the workers' updates of the whole chunk.
inline void compiler_barrier() {
#if defined(__GNUC__) || defined(__clang__)
  asm volatile("" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

inline float relaxed_load(const float* p) {
  // atomic_ref needs a non-const referent; the access itself is a pure load.
  return std::atomic_ref<float>(*const_cast<float*>(p)).load(std::memory_order_relaxed);
}
inline void relaxed_store(float* p, float v) {
  std::atomic_ref<float>(*p).store(v, std::memory_order_relaxed);
}

#if defined(SHADOWSYNC_SYNC_X86) && defined(__AVX512F__)
inline constexpr size_t kLanes = 16;
using Vec = __m512;
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline void vstream(float* p, Vec v) { _mm512_stream_ps(p, v); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
#elif defined(SHADOWSYNC_SYNC_X86) && defined(__AVX__)
inline constexpr size_t kLanes = 8;
using Vec = __m256;
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline void vstream(float* p, Vec v) { _mm256_stream_ps(p, v); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
#elif defined(SHADOWSYNC_SYNC_X86)
inline constexpr size_t kLanes = 4;
using Vec = __m128;
inline Vec vload(const float* p) { return _mm_loadu_ps(p); }
inline void vstore(float* p, Vec v) { _mm_storeu_ps(p, v); }
inline void vstream(float* p, Vec v) { _mm_stream_ps(p, v); }
inline Vec vadd(Vec a, Vec b) { return _mm_add_ps(a, b); }
inline Vec vsub(Vec a, Vec b) { return _mm_sub_ps(a, b); }
#endif

// dst[k] = replica[k] for k < length (dst is private scratch).
inline void read_replica(float* dst, const float* replica, size_t length) {
  size_t k = 0;
#ifdef SHADOWSYNC_SYNC_X86
  for (; k + 2 * kLanes <= length; k += 2 * kLanes) {
    const Vec a = vload(replica + k);
    const Vec b = vload(replica + k + kLanes);
    vstore(dst + k, a);
    vstore(dst + k + kLanes, b);
  }
  for (; k + kLanes <= length; k += kLanes) vstore(dst + k, vload(replica + k));
#endif
  for (; k < length; ++k) dst[k] = relaxed_load(replica + k);
}

// dst[k] = replica[k] and sum[k] = dst[k] (first) or sum[k] += dst[k] (dst, sum: private).
inline void read_replica_and_sum(float* dst, float* sum, const float* replica, size_t length, bool first) {
  size_t k = 0;
#ifdef SHADOWSYNC_SYNC_X86
  for (; k + kLanes <= length; k += kLanes) {
    const Vec v = vload(replica + k);
    vstore(dst + k, v);
    vstore(sum + k, first ? v : vadd(vload(sum + k), v));
  }
#endif
  for (; k < length; ++k) {
    dst[k] = relaxed_load(replica + k);
    sum[k] = first ? dst[k] : sum[k] + dst[k];
  }
}

// Asks for the 64-byte lines of [p, p + length) to be brought into L1 ahead of use (a hint: no
// memory access in the C++ sense, no fault on any address).
inline void prefetch_lines(const float* p, size_t length) {
#ifdef SHADOWSYNC_SYNC_X86
  for (size_t k = 0; k < length; k += 16) _mm_prefetch(reinterpret_cast<const char*>(p + k), _MM_HINT_T0);
#else
  (void)p;
  (void)length;
#endif
}

// replica[k] += delta(k) for k < length, where the private operands give delta(k) both as a
// vector (vector_delta(k): lanes k .. k + kLanes - 1) and as a scalar (scalar_delta(k)). With
// `nontemporal`, the aligned body is written with streaming stores; the caller then calls
// store_fence() before it publishes the round. While it works it prefetches
// [prefetch, prefetch + prefetch_length) (the next chunk of this replica), one line per line
// written, so that memory reads of the next chunk overlap this write-back instead of waiting for
// the next snapshot.
template <typename VectorDelta, typename ScalarDelta>
inline void update_replica(float* replica, size_t length, bool nontemporal, const float* prefetch,
                           size_t prefetch_length, VectorDelta vector_delta, ScalarDelta scalar_delta) {
  compiler_barrier();  // load the replica afresh: never reuse the snapshot's loads
  size_t k = 0;
#ifdef SHADOWSYNC_SYNC_X86
  constexpr size_t kStep = kLanes >= 16 ? kLanes : 16;  // floats per iteration: >= one line
  auto prefetch_at = [&](size_t at) {
    if (at < prefetch_length) prefetch_lines(prefetch + at, std::min<size_t>(kStep, prefetch_length - at));
  };
  if (nontemporal) {
    // Scalar head up to the vector alignment streaming stores need.
    constexpr uintptr_t kAlign = kLanes * sizeof(float);
    while (k < length && reinterpret_cast<uintptr_t>(replica + k) % kAlign != 0) {
      relaxed_store(replica + k, relaxed_load(replica + k) + scalar_delta(k));
      ++k;
    }
    for (; k + kStep <= length; k += kStep) {
      prefetch_at(k);
      for (size_t v = 0; v < kStep; v += kLanes) {
        vstream(replica + k + v, vadd(vload(replica + k + v), vector_delta(k + v)));
      }
    }
  } else {
    for (; k + kStep <= length; k += kStep) {
      prefetch_at(k);
      for (size_t v = 0; v < kStep; v += kLanes) {
        vstore(replica + k + v, vadd(vload(replica + k + v), vector_delta(k + v)));
      }
    }
  }
  if (k < length) prefetch_at(k);
  for (; k + kLanes <= length; k += kLanes) vstore(replica + k, vadd(vload(replica + k), vector_delta(k)));
#else
  (void)nontemporal;
  (void)prefetch;
  (void)prefetch_length;
  (void)vector_delta;
#endif
  for (; k < length; ++k) relaxed_store(replica + k, relaxed_load(replica + k) + scalar_delta(k));
}

// replica[k] += delta[k] (EASGD: delta = -d_i).
inline void add_to_replica(float* replica, const float* delta, size_t length, bool nontemporal,
                           const float* prefetch, size_t prefetch_length) {
  update_replica(
      replica, length, nontemporal, prefetch, prefetch_length,
#ifdef SHADOWSYNC_SYNC_X86
      [delta](size_t k) { return vload(delta + k); },
#else
      [](size_t) { return 0; },
#endif
      [delta](size_t k) { return delta[k]; });
}

// replica[k] += target[k] - snapshot[k] (MA, BMUF: one target for every replica).
inline void add_difference_to_replica(float* replica, const float* target, const float* snapshot, size_t length,
                                      bool nontemporal, const float* prefetch, size_t prefetch_length) {
  update_replica(
      replica, length, nontemporal, prefetch, prefetch_length,
#ifdef SHADOWSYNC_SYNC_X86
      [target, snapshot](size_t k) { return vsub(vload(target + k), vload(snapshot + k)); },
#else
      [](size_t) { return 0; },
#endif
      [target, snapshot](size_t k) { return target[k] - snapshot[k]; });
}

// out[0, n) = the mean of the replicas (n floats each), the m of MA / BMUF / PA: summed in
// replica order, then scaled (rule_step::mean_in_place), read in chunks through private scratch.
// For the models of several hosts (mpi/); SyncRule fuses the same sum into its snapshot pass.
inline void mean_of_replicas(const std::vector<float*>& replicas, size_t n, float* out) {
  constexpr size_t kChunk = 256;
  float scratch[kChunk];
  for (size_t b = 0; b < n; b += kChunk) {
    const size_t length = std::min(kChunk, n - b);
    for (size_t i = 0; i < replicas.size(); ++i) read_replica_and_sum(scratch, out + b, replicas[i] + b, length, i == 0);
    rule_step::mean_in_place(out + b, length, replicas.size());
  }
}

// Orders streaming stores before what follows (no-op without them).
inline void store_fence() {
#ifdef SHADOWSYNC_SYNC_X86
  _mm_sfence();
#endif
}

}  // namespace shadowsync::sync_detail
