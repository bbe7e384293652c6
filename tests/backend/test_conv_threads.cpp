// Convolution and pooling give the same bits for any pool size: forward, and every gradient
// (the weight gradient adds the batch in fixed chunks, then the chunks in order).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "democratising/nn/conv.hpp"
#include "democratising/runtime/pool.hpp"
#include "support/thread_invariance.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;

using dm::testing::expect_thread_invariant;
using dm::testing::values;

TEST(ConvThreads, Conv2dBitwiseIdenticalForAnyThreadCount) {
  // 10 images: two full weight-gradient chunks and a partial one.
  expect_thread_invariant(
      "conv2d 3x3 pad 1", [](const std::vector<Tensor>& x) { return dm::nn::conv2d(x[0], x[1], x[2], 1, 1); },
      {{10, 4, 12, 12}, {8, 4, 3, 3}, {8}});
  expect_thread_invariant(
      "conv2d groups stride dilation",
      [](const std::vector<Tensor>& x) { return dm::nn::conv2d(x[0], x[1], x[2], 2, 2, 2, 2); },
      {{9, 4, 13, 11}, {6, 2, 3, 3}, {6}});
  expect_thread_invariant(
      "conv2d 1x1", [](const std::vector<Tensor>& x) { return dm::nn::conv2d(x[0], x[1], x[2]); },
      {{7, 16, 6, 6}, {8, 16, 1, 1}, {8}});
  // The first layer of the Fashion-MNIST CNN at a full batch.
  expect_thread_invariant(
      "conv2d 1->32 28x28", [](const std::vector<Tensor>& x) { return dm::nn::conv2d(x[0], x[1], x[2], 1, 1); },
      {{64, 1, 28, 28}, {32, 1, 3, 3}, {32}});
}

TEST(ConvThreads, PoolingBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant(
      "max_pool2d", [](const std::vector<Tensor>& x) { return dm::nn::max_pool2d(x[0], 3, dm::nn::Size2{2}, 1); },
      {{8, 16, 15, 15}});
  expect_thread_invariant(
      "avg_pool2d", [](const std::vector<Tensor>& x) { return dm::nn::avg_pool2d(x[0], 3, dm::nn::Size2{2}, 1); },
      {{8, 16, 15, 15}});
  expect_thread_invariant(
      "adaptive_avg_pool2d", [](const std::vector<Tensor>& x) { return dm::nn::adaptive_avg_pool2d(x[0], {5, 3}); },
      {{8, 16, 15, 14}});
}

}  // namespace
