// AlignedFloatBuffer: an owning, movable, zero-filled, 64-byte-aligned array of floats taken from
// a MemoryResource (a dense replica, its optimizer state, activations and scratch).
#pragma once

#include <cstddef>
#include <utility>

#include "shadowsync/core/memory.hpp"

namespace shadowsync {

class AlignedFloatBuffer {
 public:
  AlignedFloatBuffer() = default;
  // The resource must outlive the buffer. n == 0 gives an empty buffer (data() == nullptr).
  explicit AlignedFloatBuffer(size_t n, MemoryResource& resource = default_memory())
      : resource_(&resource), size_(n) {
    if (n > 0) data_ = static_cast<float*>(resource.allocate(n * sizeof(float)));
  }
  AlignedFloatBuffer(AlignedFloatBuffer&& other) noexcept { swap(other); }
  AlignedFloatBuffer& operator=(AlignedFloatBuffer&& other) noexcept {
    AlignedFloatBuffer moved(std::move(other));
    swap(moved);
    return *this;
  }
  AlignedFloatBuffer(const AlignedFloatBuffer&) = delete;
  AlignedFloatBuffer& operator=(const AlignedFloatBuffer&) = delete;
  ~AlignedFloatBuffer() {
    if (data_ != nullptr) resource_->deallocate(data_, size_ * sizeof(float));
  }

  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size() const { return size_; }
  float& operator[](size_t i) { return data_[i]; }
  const float& operator[](size_t i) const { return data_[i]; }

 private:
  void swap(AlignedFloatBuffer& other) noexcept {
    std::swap(resource_, other.resource_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  MemoryResource* resource_ = nullptr;
  float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace shadowsync
