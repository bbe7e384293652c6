// nn::Residual: x + body(x) against a plain loop, names under "body", a body that changes the
// shape refused with both shapes named, a place in Sequential, and gradcheck in f64.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/residual.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "nn_test_util.hpp"

namespace {

using dm::Tensor;
using nn_test::expect_throw_with;
namespace nn = dm::nn;

TEST(Residual, AddsTheBodysOutputToItsInput) {
  dm::manual_seed(1);
  auto dense = std::make_shared<nn::Dense>(4, 4);
  nn::Residual block(dense);
  const Tensor x = nn_test::normal({3, 4}, 2);
  const auto out = block.forward(x).to_vector<double>();
  // x[i][o] + sum_k x[i][k] w[o][k] + b[o], by a plain loop in f64.
  const auto xv = x.to_vector<double>(), w = dense->weight().to_vector<double>(), b = dense->bias()->to_vector<double>();
  std::vector<double> expected(12);
  for (int i = 0; i < 3; ++i)
    for (int o = 0; o < 4; ++o) {
      double y = b[o];
      for (int k = 0; k < 4; ++k) y += xv[i * 4 + k] * w[o * 4 + k];
      expected[i * 4 + o] = xv[i * 4 + o] + y;
    }
  nn_test::expect_close(out, expected, nn_test::kRtol32, nn_test::kAtol32, "x + body(x)");
  EXPECT_EQ(block.name(), "Residual(Dense(4 -> 4))");
  EXPECT_EQ(&block.body(), dense.get());
}

TEST(Residual, NamesItsBodysParametersUnderBody) {
  nn::Residual block(nn::Sequential().add(nn::Dense(5, 5)).add(nn::ReLU()).add(nn::Dense(5, 5, false)));
  std::vector<std::string> names;
  for (const auto& [name, _] : block.named_parameters()) names.push_back(name);
  EXPECT_THAT(names, testing::ElementsAre("body.0.weight", "body.0.bias", "body.2.weight"));
  EXPECT_EQ(block.num_parameters(), 5 * 5 + 5 + 5 * 5);
}

TEST(Residual, ABodyThatChangesTheShapeIsAShapeErrorNamingBoth) {
  nn::Residual block(nn::Dense(4, 3));
  expect_throw_with<dm::ShapeError>([&] { block.forward(Tensor::zeros({2, 4})); }, "(2, 4) to (2, 3)");
  // (2, 1) + body -> (2, 4) would broadcast silently without the check.
  nn::Residual widening(nn::Dense(1, 4));
  expect_throw_with<dm::ShapeError>([&] { widening.forward(Tensor::zeros({2, 1})); }, "(2, 1) to (2, 4)");
  EXPECT_THROW({ nn::Residual null_body{std::shared_ptr<nn::Module>()}; }, dm::ValueError);
}

TEST(Residual, FitsInASequentialAndFollowsItsMode) {
  dm::manual_seed(3);
  nn::Sequential net;
  net.add(nn::Dense(6, 8)).add(nn::Residual(nn::Sequential().add(nn::Dense(8, 8)).add(nn::Dropout(0.5)))).add(nn::Dense(8, 2));
  EXPECT_EQ(net.named_parameters()[2].first, "1.body.0.weight");
  const Tensor x = Tensor::randn({4, 6});
  EXPECT_EQ(net.forward(x).shape(), (std::vector<std::int64_t>{4, 2}));
  net.eval();
  const auto* dropout = dynamic_cast<const nn::Dropout*>(
      dynamic_cast<const nn::Sequential&>(dynamic_cast<const nn::Residual&>(*net[1]).body())[1].get());
  ASSERT_NE(dropout, nullptr);
  EXPECT_FALSE(dropout->is_training());
  EXPECT_EQ(net.forward(x).to_vector<float>(), net.forward(x).to_vector<float>()) << "no dropout in evaluation mode";
}

TEST(Residual, Gradcheck) {
  dm::manual_seed(4);
  nn::Residual block(nn::Sequential().add(nn::Dense(3, 3, true, dm::DType::f64)).add(nn::Tanh()));
  std::vector<Tensor> inputs = {nn_test::leaf64({2, 3}, 5)};
  for (const Tensor& p : block.parameters()) inputs.push_back(p);  // perturbed in place by gradcheck
  const auto result = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return block.forward(in[0]); }, inputs);
  EXPECT_TRUE(result.ok) << result.message;
}

}  // namespace
