// nn::PositionalEmbedding and nn::TokenMean against plain loops, gradcheck in f64 (with a
// non-contiguous input), the positional table's initialisation, and inputs of the wrong token
// count or width refused with a ShapeError naming the layer and the shape.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/nn/tokens.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

TEST(PositionalEmbedding, AddsOneVectorPerPositionToEverySample) {
  dm::manual_seed(1);
  nn::PositionalEmbedding layer(3, 4, DType::f64);
  layer.load_parameter("weight", normal({3, 4}, 2, DType::f64));
  const Tensor x = normal({2, 3, 4}, 3, DType::f64);
  const std::vector<double> xs = x.to_vector<double>(), ws = layer.weight().to_vector<double>();
  std::vector<double> want(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) want[i] = xs[i] + ws[i % 12];
  expect_close(layer(x), want, 0, 0);
  EXPECT_EQ(layer.name(), "PositionalEmbedding(3, 4)");
}

TEST(PositionalEmbedding, StartsSmallAndRandom) {
  dm::manual_seed(2);
  const nn::PositionalEmbedding layer(16, 64);
  ASSERT_EQ(layer.named_parameters().size(), 1u);
  EXPECT_EQ(layer.named_parameters()[0].first, "weight");
  const std::vector<double> w = layer.weight().to_vector<double>();
  double sum_sq = 0;
  for (double v : w) sum_sq += v * v;
  // 1024 draws of N(0, 0.02^2): the sample std lies within 10% of 0.02 with near certainty.
  EXPECT_NEAR(std::sqrt(sum_sq / static_cast<double>(w.size())), 0.02, 0.002);
}

TEST(PositionalEmbedding, GradcheckF64WithANonContiguousInput) {
  dm::manual_seed(3);
  nn::PositionalEmbedding layer(3, 2, DType::f64);
  // The leaf is (2, 3, 2) read as (2, 3, 2) through a transpose of (2, 2, 3).
  const Tensor x = leaf64({2, 2, 3}, 4);
  std::vector<Tensor> inputs = {x, layer.parameters()[0]};
  const auto r = dm::autograd::gradcheck(
      [&](const std::vector<Tensor>& in) { return layer(in[0].transpose(1, 2)); }, inputs);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(PositionalEmbedding, WrongTokenCountOrWidthIsAShapeError) {
  const nn::PositionalEmbedding layer(16, 8);
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({2, 15, 8})); },
                                    "[PositionalEmbedding(16, 8)] x must be (batch, 16, 8), got shape (2, 15, 8)");
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({2, 16, 9})); }, "got shape (2, 16, 9)");
  expect_throw_with<dm::ShapeError>([&] { (void)layer(Tensor::zeros({16, 8})); }, "got shape (16, 8)");
  expect_throw_with<dm::ShapeError>([] { nn::PositionalEmbedding(0, 8); }, "must be positive");
}

TEST(TokenMean, AveragesOverTheTokens) {
  const Tensor x = normal({2, 3, 4}, 5, DType::f64);
  const std::vector<double> xs = x.to_vector<double>();
  std::vector<double> want(8, 0.0);
  for (int n = 0; n < 2; ++n)
    for (int t = 0; t < 3; ++t)
      for (int d = 0; d < 4; ++d) want[static_cast<std::size_t>(n * 4 + d)] += xs[static_cast<std::size_t>((n * 3 + t) * 4 + d)] / 3.0;
  const Tensor y = nn::TokenMean()(x);
  EXPECT_EQ(y.shape(), Shape({2, 4}));
  expect_close(y, want, kRtol64, kAtol64);
}

TEST(TokenMean, GradcheckF64WithANonContiguousInput) {
  const Tensor x = leaf64({4, 3, 2}, 6);
  const auto r = dm::autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return nn::TokenMean()(in[0].permute({2, 1, 0})); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(TokenMean, AnInputThatIsNotASequenceIsAShapeError) {
  expect_throw_with<dm::ShapeError>([] { (void)nn::TokenMean()(Tensor::zeros({2, 8})); },
                                    "[TokenMean] x must be (batch, tokens, dim) with at least one token, got shape (2, 8)");
  expect_throw_with<dm::ShapeError>([] { (void)nn::TokenMean()(Tensor::zeros({2, 0, 8})); }, "got shape (2, 0, 8)");
}

}  // namespace
