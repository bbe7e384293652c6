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
