// Batch norm and group norm give the same bits for any pool size: forward, and every gradient.
// The shapes span several summation blocks (see backend/cpu/norm_blocks.hpp), so the blocks'
// partial sums really are computed on different threads.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "democratising/nn/normalization.hpp"
#include "democratising/runtime/pool.hpp"
#include "support/thread_invariance.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;

using dm::testing::expect_thread_invariant;
using dm::testing::values;

const Tensor kNone;

TEST(NormThreads, BatchNormTrainingBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant(
      "batch_norm (N, C, H, W)",
      [](const std::vector<Tensor>& x) { return dm::nn::batch_norm(x[0], kNone, kNone, x[1], x[2], true); },
      {{40, 6, 30, 30}, {6}, {6}});
  // One value per sample and channel: blocks of 32768 samples, the last one partial.
  expect_thread_invariant(
      "batch_norm (N, C)",
      [](const std::vector<Tensor>& x) { return dm::nn::batch_norm(x[0], kNone, kNone, x[1], x[2], true); },
      {{70000, 3}, {3}, {3}});
  expect_thread_invariant(
      "batch_norm (N, C, L) without affine",
      [](const std::vector<Tensor>& x) { return dm::nn::batch_norm(x[0], kNone, kNone, kNone, kNone, true); },
      {{300, 40, 7}});
}

TEST(NormThreads, BatchNormEvaluationBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant(
      "batch_norm eval",
      [](const std::vector<Tensor>& x) {
        const DType t = x[0].dtype();
        return dm::nn::batch_norm(x[0], Tensor::full({6}, 0.2, t), Tensor::full({6}, 1.3, t), x[1], x[2], false);
      },
      {{40, 6, 30, 30}, {6}, {6}});
}

TEST(NormThreads, GroupNormBitwiseIdenticalForAnyThreadCount) {
  expect_thread_invariant(
      "group_norm", [](const std::vector<Tensor>& x) { return dm::nn::group_norm(x[0], 4, x[1], x[2]); },
      {{16, 8, 40, 40}, {8}, {8}});
  expect_thread_invariant(
      "group_norm (N, C)", [](const std::vector<Tensor>& x) { return dm::nn::group_norm(x[0], 2, x[1], x[2]); },
      {{5000, 6}, {6}, {6}});
}

}  // namespace
