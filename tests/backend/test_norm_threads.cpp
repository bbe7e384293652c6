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
#include "democratising/core/tensor.hpp"

namespace {

using dm::DType;
using dm::Shape;
using dm::Tensor;

Tensor values(const Shape& shape, DType dtype, std::uint64_t seed) {
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  std::uint64_t state = seed;
  for (auto& x : v) {
    state = state * 2862933555777941757ull + 3037000493ull;
    x = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
  }
  return Tensor::from_vector(v, shape).to(dtype);
}

bool same_bits(const Tensor& x, const Tensor& y) {
  if (x.shape() != y.shape() || x.dtype() != y.dtype()) return false;
  const Tensor cx = x.contiguous(), cy = y.contiguous();
  return std::memcmp(cx.data_ptr(), cy.data_ptr(), static_cast<std::size_t>(x.numel()) * dm::itemsize(x.dtype())) == 0;
}

class PoolSizeGuard {
 public:
  PoolSizeGuard() : saved_(dm::num_threads()) {}
  ~PoolSizeGuard() { dm::set_num_threads(saved_); }
  PoolSizeGuard(const PoolSizeGuard&) = delete;
  PoolSizeGuard& operator=(const PoolSizeGuard&) = delete;

 private:
  int saved_;
};

// The forward output and the gradients of every input, for one pool size.
std::vector<Tensor> run(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Shape> shapes,
                        DType dtype) {
  std::vector<Tensor> inputs;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    inputs.push_back(values(shapes[i], dtype, 7 + i));
    inputs.back().set_requires_grad();
  }
  const Tensor y = f(inputs);
  y.backward(values(y.shape(), dtype, 99));
  std::vector<Tensor> out{y};
  for (const Tensor& t : inputs) out.push_back(t.grad());
  return out;
}

void expect_thread_invariant(const std::string& name, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             const std::vector<Shape>& shapes) {
  PoolSizeGuard guard;
  for (DType dtype : {DType::f32, DType::f64}) {
    dm::set_num_threads(1);
    const std::vector<Tensor> want = run(f, shapes, dtype);
    for (int threads : {2, 3}) {
      dm::set_num_threads(threads);
      const std::vector<Tensor> got = run(f, shapes, dtype);
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_TRUE(same_bits(got[i], want[i])) << name << " " << dm::dtype_name(dtype) << ": output " << i
                                                << " differs between 1 and " << threads << " threads";
    }
  }
}

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
