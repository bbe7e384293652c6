// The CUDA kernels' launch shapes and strided index maths (backend/cuda/launch.hpp), checked
// on the host: every element is reached, and offsets past 2^31 elements come out exact.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "backend/cuda/launch.hpp"

namespace {

using dm::Shape;
using dm::Strides;
using dm::cuda_backend::grid_blocks;
using dm::cuda_backend::kBlockThreads;
using dm::cuda_backend::kMaxBlocks;
using dm::cuda_backend::make_strided_index;
using dm::cuda_backend::StridedIndex;

TEST(CudaLaunch, GridCoversEveryElementWithinTheLaunchLimit) {
  EXPECT_EQ(grid_blocks(0), 1);  // a launch needs one block even with nothing to do
  EXPECT_EQ(grid_blocks(1), 1);
  EXPECT_EQ(grid_blocks(kBlockThreads), 1);
  EXPECT_EQ(grid_blocks(kBlockThreads + 1), 2);
  EXPECT_EQ(grid_blocks(std::int64_t{1} << 40), kMaxBlocks);
  EXPECT_EQ(grid_blocks(10, 1), 10);
  EXPECT_LE(kMaxBlocks, std::int64_t{0x7fffffff});
  // A grid-stride loop visits i, i + step, ...: with step = blocks * threads every element of
  // [0, n) belongs to exactly one thread.
  for (std::int64_t n : {std::int64_t{1}, std::int64_t{255}, std::int64_t{1} << 24, (std::int64_t{1} << 33) + 7}) {
    const std::int64_t step = grid_blocks(n) * kBlockThreads;
    const std::int64_t rounds = (n + step - 1) / step;
    EXPECT_GE(rounds * step, n) << n;
    EXPECT_LT((rounds - 1) * step, n) << n;
  }
}

// Offsets by the definition: row-major coordinates of i, dotted with each array's strides.
std::vector<std::int64_t> naive_offsets(const Shape& shape, const std::vector<Strides>& strides, std::int64_t i) {
  std::vector<std::int64_t> off(strides.size(), 0);
  for (int d = shape.size() - 1; d >= 0; --d) {
    const std::int64_t c = i % shape[d];
    i /= shape[d];
    for (std::size_t k = 0; k < strides.size(); ++k) off[k] += c * strides[k][d];
  }
  return off;
}

TEST(CudaLaunch, StridedOffsetsMatchTheDefinitionForTransposesAndBroadcasts) {
  // out (2, 1, 3, 4) contiguous; a transposed view; b broadcast along dims 0 and 3.
  const Shape shape{2, 1, 3, 4};
  const Strides out{12, 12, 4, 1}, a{1, 99, 8, 2}, b{0, 0, 1, 0};
  const Strides* const strides[3] = {&out, &a, &b};
  const StridedIndex<3> idx = make_strided_index<3>(shape, strides);
  EXPECT_EQ(idx.ndim, 3);  // the extent-1 dim is dropped (its stride never matters)
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    std::int64_t off[3];
    idx.offsets(i, off);
    const std::vector<std::int64_t> want = naive_offsets(shape, {out, a, b}, i);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(off[k], want[static_cast<std::size_t>(k)]) << "i " << i << " array " << k;
  }
}

TEST(CudaLaunch, OffsetsPast2To31ElementsAreExact) {
  // 3 x (2^31 + 5) elements, read column-major: the last offsets exceed any 32-bit index.
  const std::int64_t cols = (std::int64_t{1} << 31) + 5;
  const Shape shape{3, cols};
  const Strides out{cols, 1}, colmajor{1, 3};
  const Strides* const strides[2] = {&out, &colmajor};
  const StridedIndex<2> idx = make_strided_index<2>(shape, strides);
  for (std::int64_t i : {std::int64_t{0}, cols - 1, cols, std::int64_t{1} << 31, (std::int64_t{1} << 32) + 3,
                         3 * cols - 1}) {
    std::int64_t off[2];
    idx.offsets(i, off);
    const std::int64_t r = i / cols, c = i % cols;
    EXPECT_EQ(off[0], i);
    EXPECT_EQ(off[1], r + 3 * c) << i;
  }
}

TEST(CudaLaunch, AScalarShapeHasOneElementAtOffsetZero) {
  const Shape shape{1, 1};
  const Strides s{5, 7};
  const Strides* const strides[1] = {&s};
  const StridedIndex<1> idx = make_strided_index<1>(shape, strides);
  std::int64_t off[1] = {-1};
  idx.offsets(0, off);
  EXPECT_EQ(idx.ndim, 0);
  EXPECT_EQ(off[0], 0);
}

}  // namespace
