// Cached oneDNN matmul primitives for the model's GEMMs (see matmul_cache.hpp).
#include "model/matmul_cache.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include <tuple>
#include <unordered_map>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

using Key = std::tuple<char, char, int, int, int, int, int, int, bool>;

struct KeyHash {
  size_t operator()(const Key& key) const {
    const auto [ta, tb, m, n, k, lda, ldb, ldc, bf16] = key;
    size_t h = size_t(ta) * 31 + size_t(tb) + (bf16 ? 7 : 0);
    for (int v : {m, n, k, lda, ldb, ldc}) h = h * 1000003u ^ size_t(unsigned(v));
    return h;
  }
};

struct Entry {
  dnnl::matmul matmul;
  dnnl::memory src, weights, dst;
};

struct ThreadCache {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<Key, Entry, KeyHash> entries;
  std::vector<uint16_t> a_bf16, b_bf16;  // BF16 copies of the operands (cached_matmul with bf16)
};

void to_bf16(const float* in, size_t count, std::vector<uint16_t>& out) {
  if (out.size() < count) out.resize(count);
  round_to_bf16(in, count, out.data());
}

constexpr size_t kMaxShapes = 256;

// Row-major (rows x cols) operand stored with leading dimension ld, transposed when `t` is 'T'.
dnnl::memory::desc operand(char t, dnnl::memory::dim rows, dnnl::memory::dim cols, dnnl::memory::dim ld,
                           dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
  const dnnl::memory::dims strides = t == 'T' ? dnnl::memory::dims{1, ld} : dnnl::memory::dims{ld, 1};
  return dnnl::memory::desc({rows, cols}, type, strides);
}

Entry make_entry(ThreadCache& cache, char ta, char tb, int m, int n, int k, int lda, int ldb, int ldc, bool bf16) {
  const auto in_type = bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  const dnnl::memory::desc a = operand(ta, m, k, lda, in_type), b = operand(tb, k, n, ldb, in_type),
                           c = operand('N', m, n, ldc);
  dnnl::matmul matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), cache.engine));
  return Entry{matmul, dnnl::memory(a, cache.engine, DNNL_MEMORY_NONE), dnnl::memory(b, cache.engine, DNNL_MEMORY_NONE),
               dnnl::memory(c, cache.engine, DNNL_MEMORY_NONE)};
}

// The cached primitive of this shape (created on first use).
Entry& entry(ThreadCache& cache, char ta, char tb, int m, int n, int k, int lda, int ldb, int ldc, bool bf16) {
  const Key key{ta, tb, m, n, k, lda, ldb, ldc, bf16};
  auto it = cache.entries.find(key);
  if (it == cache.entries.end()) {
    if (cache.entries.size() >= kMaxShapes) cache.entries.clear();
    it = cache.entries.emplace(key, make_entry(cache, ta, tb, m, n, k, lda, ldb, ldc, bf16)).first;
  }
  return it->second;
}

ThreadCache& thread_cache() {
  thread_local ThreadCache cache;
  return cache;
}

// Runs `e` on the operands (oneDNN takes non-const handles; the primitive only reads src and
// weights).
void execute(ThreadCache& cache, Entry& e, const void* a, const void* b, float* c) {
  e.src.set_data_handle(const_cast<void*>(a));
  e.weights.set_data_handle(const_cast<void*>(b));
  e.dst.set_data_handle(c);
  e.matmul.execute(cache.stream, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, e.dst}});
  cache.stream.wait();
}

[[noreturn]] void rethrow(const dnnl::error& error, int m, int n, int k) {
  throw Error("model: oneDNN matmul (" + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
              ") failed: " + error.what());
}

}  // namespace

void round_to_bf16(const float* in, size_t count, uint16_t* out) {
  const float* __restrict i_ = in;
  uint16_t* __restrict o = out;
  for (size_t i = 0; i < count; ++i) o[i] = round_to_bf16(i_[i]);
}

void cached_matmul(char ta, char tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                   float* c, int ldc, bool bf16) {
  if (m == 0 || n == 0) return;
  ThreadCache& cache = thread_cache();
  try {
    Entry& e = entry(cache, ta, tb, m, n, k, lda, ldb, ldc, bf16);
    if (bf16) {  // BF16 copies of the stored extents (rows x leading dimension, last row to its end)
      const size_t a_rows = size_t(ta == 'T' ? k : m), a_cols = size_t(ta == 'T' ? m : k);
      const size_t b_rows = size_t(tb == 'T' ? n : k), b_cols = size_t(tb == 'T' ? k : n);
      to_bf16(a, (a_rows - 1) * size_t(lda) + a_cols, cache.a_bf16);
      to_bf16(b, (b_rows - 1) * size_t(ldb) + b_cols, cache.b_bf16);
      execute(cache, e, cache.a_bf16.data(), cache.b_bf16.data(), c);
    } else {
      execute(cache, e, a, b, c);
    }
  } catch (const dnnl::error& error) {
    rethrow(error, m, n, k);
  }
}

void cached_matmul_bf16(char ta, char tb, int m, int n, int k, const uint16_t* a, int lda, const uint16_t* b,
                        int ldb, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  ThreadCache& cache = thread_cache();
  try {
    execute(cache, entry(cache, ta, tb, m, n, k, lda, ldb, ldc, true), a, b, c);
  } catch (const dnnl::error& error) {
    rethrow(error, m, n, k);
  }
}

}  // namespace shadowsync
