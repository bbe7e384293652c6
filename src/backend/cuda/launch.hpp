#pragma once
// Launch shapes and strided index maths of the CUDA kernels, in plain C++ so the host tests
// check them without a GPU. All index maths is 64-bit: tensors past 2^31 elements are
// walked with grid-stride loops, and a grid never exceeds what one launch may have.
#include <cstdint>

#include "backend/host_device.hpp"
#include "democratising/base/shape.hpp"

namespace dm::cuda_backend {

/// Threads per block of the elementwise and fill kernels.
inline constexpr int kBlockThreads = 256;
/// The most blocks one grid-stride launch uses: enough to fill an H200 many times over,
/// well inside CUDA's 2^31 - 1 limit on gridDim.x.
inline constexpr std::int64_t kMaxBlocks = std::int64_t{1} << 16;

/// Blocks for n work items at `threads` per block, grid-stride beyond kMaxBlocks; at least 1.
constexpr std::int64_t grid_blocks(std::int64_t n, int threads = kBlockThreads, std::int64_t max_blocks = kMaxBlocks) {
  const std::int64_t needed = n <= 0 ? 1 : (n + threads - 1) / threads;
  return needed < max_blocks ? needed : max_blocks;
}

/// Scratch, in elements, that one run of a layer kernel may hold (im2col columns, attention
/// scores): 2^26, 256 MiB of f32, so a large batch goes through in several runs rather than
/// in one allocation that could exhaust the device.
inline constexpr std::int64_t kScratchElements = std::int64_t{1} << 26;

/// How many of `total` items (images, attention heads) one run takes when each needs
/// `per_item` elements of scratch: as many as fit in `budget`, at least 1, at most total.
constexpr std::int64_t items_per_run(std::int64_t per_item, std::int64_t total,
                                     std::int64_t budget = kScratchElements) {
  const std::int64_t fit = per_item <= 0 ? total : budget / per_item;
  const std::int64_t n = fit < total ? fit : total;
  return n < 1 ? 1 : n;
}

/// A strided walk over an output shape with N arrays (the output and its operands), passed to
/// kernels by value: extents and per-array strides in elements, innermost dim last.
template <int N>
struct StridedIndex {
  int ndim = 0;
  std::int64_t size[kMaxDims] = {};
  std::int64_t stride[N][kMaxDims] = {};

  /// Element offsets of linear (row-major) position i in each array.
  DM_HOST_DEVICE void offsets(std::int64_t i, std::int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const std::int64_t extent = size[d];
      const std::int64_t coord = i % extent;
      i /= extent;
      for (int k = 0; k < N; ++k) off[k] += coord * stride[k][d];
    }
  }
};

/// The walk over `shape` with the given strides (each over `shape`), dims of extent 1 dropped.
template <int N>
StridedIndex<N> make_strided_index(const Shape& shape, const Strides* const (&strides)[N]) {
  StridedIndex<N> idx;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    idx.size[idx.ndim] = shape[d];
    for (int k = 0; k < N; ++k) idx.stride[k][idx.ndim] = (*strides[k])[d];
    ++idx.ndim;
  }
  return idx;
}

}  // namespace dm::cuda_backend
