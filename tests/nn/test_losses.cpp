// cross_entropy, nll_loss and mse_loss against plain loops, gradcheck, and their errors.
#include <gtest/gtest.h>

#include <cmath>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
using dm::nn::cross_entropy;
using dm::nn::mse_loss;
using dm::nn::nll_loss;

// Per-row log-softmax computed the textbook way, in long double.
std::vector<double> reference_log_softmax(const std::vector<double>& x, std::int64_t rows, std::int64_t cols) {
  std::vector<double> out(x.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    long double m = x[r * cols];
    for (std::int64_t j = 1; j < cols; ++j) m = std::max<long double>(m, x[r * cols + j]);
    long double s = 0;
    for (std::int64_t j = 0; j < cols; ++j) s += std::exp(static_cast<long double>(x[r * cols + j]) - m);
    for (std::int64_t j = 0; j < cols; ++j)
      out[r * cols + j] = static_cast<double>(x[r * cols + j] - m - std::log(s));
  }
  return out;
}

double reference_nll(const std::vector<double>& log_probs, const std::vector<std::int64_t>& labels, std::int64_t cols) {
  double s = 0;
  for (std::size_t r = 0; r < labels.size(); ++r) s -= log_probs[r * cols + labels[r]];
  return s / static_cast<double>(labels.size());
}

TEST(CrossEntropy, ForwardMatchesLogSoftmaxNll) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor logits = normal({6, 5}, 1, dtype, 3.0);
    const std::vector<std::int64_t> labels{0, 4, 2, 2, 1, 3};
    const Tensor loss = cross_entropy(logits, Tensor::from_vector(labels));
    EXPECT_EQ(loss.dim(), 0);
    EXPECT_EQ(loss.dtype(), dtype);
    const double expected = reference_nll(reference_log_softmax(logits.to_vector<double>(), 6, 5), labels, 5);
    if (dtype == DType::f32) {
      expect_close(loss, {expected}, kRtol32, kAtol32);
    } else {
      expect_close(loss, {expected}, kRtol64, kAtol64);
    }
  }
}

TEST(CrossEntropy, StableForLargeLogits) {
  // exp(1000) overflows; the max-shifted form does not.
  const Tensor logits = Tensor::from_vector(std::vector<float>{1000.f, 999.f, 0.f, -1000.f, 5.f, 1000.f}, {2, 3});
  const Tensor loss = cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{1, 2}));
  const double expected =
      reference_nll(reference_log_softmax(logits.to_vector<double>(), 2, 3), std::vector<std::int64_t>{1, 2}, 3);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  expect_close(loss, {expected}, kRtol32, kAtol32);
}

TEST(CrossEntropy, BackwardIsSoftmaxMinusOnehotOverB) {
  const std::int64_t rows = 4, cols = 3;
  Tensor logits = leaf64({rows, cols}, 2);
  const std::vector<std::int64_t> labels{2, 0, 1, 2};
  const Tensor g = Tensor::scalar(0.5, DType::f64);  // d(loss) upstream
  const auto grads = dm::autograd::grad(cross_entropy(logits, Tensor::from_vector(labels)), {logits}, g);
  const auto lsm = reference_log_softmax(logits.to_vector<double>(), rows, cols);
  std::vector<double> expected(rows * cols);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < cols; ++j)
      expected[r * cols + j] = 0.5 * (std::exp(lsm[r * cols + j]) - (labels[r] == j ? 1.0 : 0.0)) / rows;
  expect_close(grads[0], expected, kRtol64, kAtol64);
}

TEST(CrossEntropy, Gradcheck) {
  const Tensor labels = Tensor::from_vector(std::vector<std::int32_t>{1, 0, 3});
  const auto r = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); },
                                         {leaf64({3, 4}, 3)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(CrossEntropy, AcceptsIntegerLabelDtypes) {
  const Tensor logits = normal({3, 4}, 4);
  const double expected = cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{1, 3, 0})).item<double>();
  EXPECT_EQ(cross_entropy(logits, Tensor::from_vector(std::vector<std::int32_t>{1, 3, 0})).item<double>(), expected);
  EXPECT_EQ(cross_entropy(logits, Tensor::from_vector(std::vector<std::uint8_t>{1, 3, 0})).item<double>(), expected);
}

TEST(CrossEntropy, Errors) {
  const Tensor logits = Tensor::zeros({2, 10});
  expect_throw_with<dm::ValueError>(
      [&] { cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{3, 12})); },
      "label 12 at index 1 is outside [0, 10)");
  expect_throw_with<dm::ValueError>(
      [&] { cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{-1, 0})); }, "label -1");
  expect_throw_with<dm::ShapeError>(
      [&] { cross_entropy(logits, Tensor::from_vector(std::vector<std::int64_t>{1, 2, 3})); },
      "[cross_entropy] logits (2, 10) vs labels (3,): labels must have shape (2,)");
  expect_throw_with<dm::ShapeError>([&] { cross_entropy(Tensor::zeros({10}), Tensor::zeros({10}, DType::i64)); },
                                    "must be 2-d");
  expect_throw_with<dm::DTypeError>([&] { cross_entropy(logits, Tensor::zeros({2})); }, "labels must be");
  expect_throw_with<dm::DTypeError>([&] { cross_entropy(Tensor::zeros({2, 3}, DType::i64), Tensor::zeros({2}, DType::i64)); },
                                    "logits must be");
}

TEST(NllLoss, ForwardBackwardAndGradcheck) {
  const std::vector<std::int64_t> labels{2, 0, 1};
  const Tensor y = Tensor::from_vector(labels);
  Tensor lp = leaf64({3, 4}, 5);
  const Tensor loss = nll_loss(lp, y);
  expect_close(loss, {reference_nll(lp.to_vector<double>(), labels, 4)}, kRtol64, kAtol64);
  const auto grads = dm::autograd::grad(loss, {lp}, Tensor::scalar(1.0, DType::f64));
  std::vector<double> expected(12, 0.0);
  for (std::size_t r = 0; r < 3; ++r) expected[r * 4 + labels[r]] = -1.0 / 3.0;
  expect_close(grads[0], expected, kRtol64, kAtol64);
  const auto r = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return nll_loss(in[0], y); }, {lp});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_THROW(nll_loss(lp, Tensor::from_vector(std::vector<std::int64_t>{0, 4, 1})), dm::ValueError);
}

TEST(MseLoss, ForwardBackwardAndGradcheck) {
  Tensor p = leaf64({2, 3, 2}, 6), t = leaf64({2, 3, 2}, 7);
  const auto pv = p.to_vector<double>(), tv = t.to_vector<double>();
  double s = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) s += (pv[i] - tv[i]) * (pv[i] - tv[i]);
  const Tensor loss = mse_loss(p, t);
  expect_close(loss, {s / 12.0}, kRtol64, kAtol64);
  const auto grads = dm::autograd::grad(loss, {p, t}, Tensor::scalar(1.0, DType::f64));
  std::vector<double> dp(12), dt(12);
  for (std::size_t i = 0; i < 12; ++i) {
    dp[i] = 2.0 * (pv[i] - tv[i]) / 12.0;
    dt[i] = -dp[i];
  }
  expect_close(grads[0], dp, kRtol64, kAtol64, "dprediction");
  expect_close(grads[1], dt, kRtol64, kAtol64, "dtarget");
  const auto r = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); }, {p, t});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(MseLoss, F32AndErrors) {
  const Tensor p = normal({50}, 8), t = normal({50}, 9);
  const auto pv = p.to_vector<double>(), tv = t.to_vector<double>();
  double s = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) s += (pv[i] - tv[i]) * (pv[i] - tv[i]);
  expect_close(mse_loss(p, t), {s / 50.0}, kRtol32, kAtol32);
  expect_throw_with<dm::ShapeError>([] { mse_loss(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})); },
                                    "[mse_loss] prediction (2, 3) vs target (3, 2)");
  EXPECT_THROW(mse_loss(Tensor::zeros({2}), Tensor::zeros({2}, DType::f64)), dm::DTypeError);
}

}  // namespace
