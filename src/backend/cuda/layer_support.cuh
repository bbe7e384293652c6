#pragma once
// What the model layers' kernel files share: the f32/f64 dispatch, typed views of raw
// buffers, a grid-stride launch of a per-element functor, and scratch memory ordered on the
// default stream (freed after the kernels queued before it, so a host loop may reuse it).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/typed_buffer.hpp"
#include "democratising/base/dtype.hpp"
#include "democratising/base/error.hpp"

namespace dm::cuda_backend::layer {

template <class F>
void dispatch_float(DType dtype, const char* entry, F&& f) {
  if (dtype == DType::f32) return f(float{});
  if (dtype == DType::f64) return f(double{});
  throw DTypeError(std::string("[cuda: ") + entry + "] expects f32 or f64, got " + std::string(dtype_name(dtype)));
}

using backend::typed;

template <class F>
__global__ void each_kernel(std::int64_t n, F f) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) f(i);
}

/// Calls f(i) on the device for every i in [0, n).
template <class F>
void each(const char* entry, std::int64_t n, F f) {
  if (n <= 0) return;
  each_kernel<F><<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(n, f);
  check_launch(entry);
}

/// Blocks for one block per item (row, channel), grid-stride beyond kMaxBlocks.
inline unsigned block_per_item(std::int64_t items) { return static_cast<unsigned>(grid_blocks(items, 1)); }

/// Zeroes `count` elements of `item` bytes at p (null p: nothing).
inline void zero(void* p, std::int64_t count, std::size_t item, const char* entry) {
  if (p && count > 0) check(cudaMemsetAsync(p, 0, static_cast<std::size_t>(count) * item, nullptr), entry);
}

/// Device memory for `count` elements of T, stream-ordered on the default stream.
template <class T>
class Scratch {
 public:
  Scratch(std::int64_t count, const char* entry) {
    if (count > 0)
      check(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), static_cast<std::size_t>(count) * sizeof(T), nullptr),
            entry);
  }
  ~Scratch() {
    if (ptr_) cudaFreeAsync(ptr_, nullptr);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
};

}  // namespace dm::cuda_backend::layer
