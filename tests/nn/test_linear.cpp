// nn::linear against plain loops, its hand-written backward against loops and gradcheck, and
// its argument checks.
#include <gtest/gtest.h>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
using dm::nn::linear;

// y[r][o] = sum_k x[r][k] w[o][k] + b[o], x flattened to (rows, in).
std::vector<double> reference_linear(const std::vector<double>& x, const std::vector<double>& w,
                                     const std::vector<double>& b, std::int64_t rows, std::int64_t in,
                                     std::int64_t out) {
  std::vector<double> y(static_cast<std::size_t>(rows * out));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      for (std::int64_t k = 0; k < in; ++k) acc += x[r * in + k] * w[o * in + k];
      y[r * out + o] = acc;
    }
  return y;
}

TEST(Linear, ForwardMatchesLoops2d) {
  const Tensor x = normal({5, 7}, 1), w = normal({4, 7}, 2), b = normal({4}, 3);
  const Tensor y = linear(x, w, b);
  EXPECT_EQ(y.shape(), Shape({5, 4}));
  EXPECT_EQ(y.dtype(), DType::f32);
  expect_close(y, reference_linear(x.to_vector<double>(), w.to_vector<double>(), b.to_vector<double>(), 5, 7, 4),
               kRtol32, kAtol32);
}

TEST(Linear, ForwardWithoutBiasAnd3dInput) {
  const Tensor x = normal({2, 3, 6}, 4), w = normal({5, 6}, 5);
  const Tensor y = linear(x, w);
  EXPECT_EQ(y.shape(), Shape({2, 3, 5}));
  expect_close(y, reference_linear(x.to_vector<double>(), w.to_vector<double>(), {}, 6, 6, 5), kRtol32, kAtol32);
}

TEST(Linear, ForwardOf1dInputAndStridedInput) {
  const Tensor w = normal({3, 4}, 6, DType::f64), b = normal({3}, 7, DType::f64);
  const Tensor v = normal({4}, 8, DType::f64);
  const Tensor y1 = linear(v, w, b);
  EXPECT_EQ(y1.shape(), Shape({3}));
  expect_close(y1, reference_linear(v.to_vector<double>(), w.to_vector<double>(), b.to_vector<double>(), 1, 4, 3),
               kRtol64, kAtol64);
  const Tensor xt = normal({4, 6}, 9, DType::f64).t();  // (6, 4), column-major
  ASSERT_FALSE(xt.is_contiguous());
  expect_close(linear(xt, w, b),
               reference_linear(xt.to_vector<double>(), w.to_vector<double>(), b.to_vector<double>(), 6, 4, 3),
               kRtol64, kAtol64);
}

TEST(Linear, BackwardMatchesLoops) {
  // dx = g W, dW = g^T x, db = sum_r g, with x (2, 3, 4) flattened to (6, 4).
  const std::int64_t rows = 6, in = 4, out = 5;
  Tensor x = leaf64({2, 3, in}, 10), w = leaf64({out, in}, 11), b = leaf64({out}, 12);
  const Tensor g = normal({2, 3, out}, 13, DType::f64);
  const std::vector<Tensor> grads = dm::autograd::grad(linear(x, w, b), {x, w, b}, g);
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), gv = g.to_vector<double>();
  std::vector<double> dx(rows * in, 0.0), dw(out * in, 0.0), db(out, 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      db[o] += gv[r * out + o];
      for (std::int64_t k = 0; k < in; ++k) {
        dx[r * in + k] += gv[r * out + o] * wv[o * in + k];
        dw[o * in + k] += gv[r * out + o] * xv[r * in + k];
      }
    }
  EXPECT_EQ(grads[0].shape(), x.shape());
  expect_close(grads[0], dx, kRtol64, kAtol64, "dx");
  expect_close(grads[1], dw, kRtol64, kAtol64, "dW");
  expect_close(grads[2], db, kRtol64, kAtol64, "db");
}

TEST(Linear, InputsThatNeedNoGradientGetNone) {
  const Tensor x = normal({3, 4}, 14);  // data: no gradient wanted
  Tensor w = normal({2, 4}, 15);
  w.set_requires_grad(true);
  const Tensor y = linear(x, w);
  EXPECT_TRUE(y.requires_grad());
  EXPECT_STREQ(y.grad_fn_name(), "linear");
  const auto grads = dm::autograd::grad(y, {w}, Tensor::ones({3, 2}));
  EXPECT_EQ(grads[0].shape(), Shape({2, 4}));
  // Nothing requires grad: nothing is recorded.
  EXPECT_FALSE(linear(x, w.detach()).requires_grad());
}

TEST(Linear, Gradcheck2dWithAndWithoutBias) {
  const Tensor x = leaf64({3, 4}, 20), w = leaf64({5, 4}, 21), b = leaf64({5}, 22);
  auto with_bias = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                                           {x, w, b});
  EXPECT_TRUE(with_bias.ok) << with_bias.message;
  auto without = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w});
  EXPECT_TRUE(without.ok) << without.message;
}

TEST(Linear, Gradcheck3dWithAndWithoutBias) {
  const Tensor x = leaf64({2, 3, 4}, 23), w = leaf64({2, 4}, 24), b = leaf64({2}, 25);
  auto with_bias = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                                           {x, w, b});
  EXPECT_TRUE(with_bias.ok) << with_bias.message;
  auto without = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {x, w});
  EXPECT_TRUE(without.ok) << without.message;
}

TEST(Linear, Bf16ComputesInF32) {
  const Tensor x = normal({4, 8}, 30), w = normal({3, 8}, 31), b = normal({3}, 32);
  const Tensor y = linear(x.to(DType::bf16), w.to(DType::bf16), b.to(DType::bf16));
  EXPECT_EQ(y.dtype(), DType::bf16);
  const auto expected = reference_linear(x.to(DType::bf16).to_vector<double>(), w.to(DType::bf16).to_vector<double>(),
                                         b.to(DType::bf16).to_vector<double>(), 4, 8, 3);
  expect_close(y, expected, 1e-2, 1e-2);  // bf16 keeps 8 significant bits
}

TEST(Linear, ChecksShapesAndDtypes) {
  const Tensor w = Tensor::zeros({128, 784});
  expect_throw_with<dm::ShapeError>([&] { linear(Tensor::zeros({64, 700}), w); }, "[linear] x (64, 700) vs weight (128, 784)");
  expect_throw_with<dm::ShapeError>([&] { linear(Tensor::zeros({64, 784}), Tensor::zeros({784})); }, "weight must be 2-d");
  expect_throw_with<dm::ShapeError>([&] { linear(Tensor::zeros({64, 784}), w, Tensor::zeros({10})); },
                                    "bias must have shape (128,)");
  expect_throw_with<dm::DTypeError>([&] { linear(Tensor::zeros({64, 784}, DType::f64), w); }, "f64");
  expect_throw_with<dm::DTypeError>([&] { linear(Tensor::zeros({2, 784}, DType::i64), w); }, "i64");
  EXPECT_THROW(linear(Tensor(), w), dm::ValueError);
}

}  // namespace
