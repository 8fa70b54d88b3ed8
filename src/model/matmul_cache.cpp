// Cached oneDNN matmul primitives for the model's GEMMs (see matmul_cache.hpp).
#include "model/matmul_cache.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <string>
#include <tuple>
#include <unordered_map>

#include "shadowsync/core/error.hpp"

namespace shadowsync {
namespace {

using Key = std::tuple<char, char, int, int, int, int, int, int>;

struct KeyHash {
  size_t operator()(const Key& key) const {
    const auto [ta, tb, m, n, k, lda, ldb, ldc] = key;
    size_t h = size_t(ta) * 31 + size_t(tb);
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
};

constexpr size_t kMaxShapes = 256;

// Row-major (rows x cols) operand stored with leading dimension ld, transposed when `t` is 'T'.
dnnl::memory::desc operand(char t, dnnl::memory::dim rows, dnnl::memory::dim cols, dnnl::memory::dim ld) {
  const dnnl::memory::dims strides = t == 'T' ? dnnl::memory::dims{1, ld} : dnnl::memory::dims{ld, 1};
  return dnnl::memory::desc({rows, cols}, dnnl::memory::data_type::f32, strides);
}

Entry make_entry(ThreadCache& cache, char ta, char tb, int m, int n, int k, int lda, int ldb, int ldc) {
  const dnnl::memory::desc a = operand(ta, m, k, lda), b = operand(tb, k, n, ldb), c = operand('N', m, n, ldc);
  dnnl::matmul matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), cache.engine));
  return Entry{matmul, dnnl::memory(a, cache.engine, DNNL_MEMORY_NONE), dnnl::memory(b, cache.engine, DNNL_MEMORY_NONE),
               dnnl::memory(c, cache.engine, DNNL_MEMORY_NONE)};
}

}  // namespace

void cached_matmul(char ta, char tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb,
                   float* c, int ldc) {
  if (m == 0 || n == 0) return;
  thread_local ThreadCache cache;
  try {
    const Key key{ta, tb, m, n, k, lda, ldb, ldc};
    auto it = cache.entries.find(key);
    if (it == cache.entries.end()) {
      if (cache.entries.size() >= kMaxShapes) cache.entries.clear();
      it = cache.entries.emplace(key, make_entry(cache, ta, tb, m, n, k, lda, ldb, ldc)).first;
    }
    Entry& e = it->second;
    // oneDNN takes non-const handles; the primitive only reads src and weights.
    e.src.set_data_handle(const_cast<float*>(a));
    e.weights.set_data_handle(const_cast<float*>(b));
    e.dst.set_data_handle(c);
    e.matmul.execute(cache.stream, {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, e.weights}, {DNNL_ARG_DST, e.dst}});
    cache.stream.wait();
  } catch (const dnnl::error& error) {
    throw Error("model: oneDNN matmul (" + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
                ") failed: " + error.what());
  }
}

}  // namespace shadowsync
