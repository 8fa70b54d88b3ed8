// G buffers of n floats (replicas, or their optimizer state) for the sync tests, each in its own
// 64-byte-aligned allocation, optionally shifted by `misalign` floats (to exercise unaligned
// heads and tails).
#pragma once

#include <cstddef>
#include <vector>

#include "shadowsync/core/aligned_buffer.hpp"

namespace shadowsync::test {

class ReplicaBuffers {
 public:
  ReplicaBuffers(int groups, size_t n, size_t misalign = 0) : n_(n) {
    for (int i = 0; i < groups; ++i) {
      buffers_.emplace_back(n + misalign);
      pointers_.push_back(buffers_.back().data() + misalign);
    }
  }
  // Every float, buffer by buffer, from `value()`.
  template <class Value>
  void fill_with(Value&& value) {
    for (float* p : pointers_) {
      for (size_t e = 0; e < n_; ++e) p[e] = value();
    }
  }
  std::vector<std::vector<double>> values() const {
    std::vector<std::vector<double>> out;
    for (const float* p : pointers_) out.emplace_back(p, p + n_);
    return out;
  }
  std::vector<float*>& pointers() { return pointers_; }
  float* operator[](size_t i) { return pointers_[i]; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  std::vector<AlignedFloatBuffer> buffers_;
  std::vector<float*> pointers_;
};

}  // namespace shadowsync::test
