// nn::Unflatten: shapes and values as torch.nn.Unflatten, negative dims, a view where possible,
// gradients through it, and an input of the wrong size refused with both sizes named.
#include <gtest/gtest.h>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/unflatten.hpp"
#include "nn_test_util.hpp"

namespace {

using dm::Tensor;
using nn_test::expect_throw_with;

TEST(Unflatten, SplitsOneDimKeepingTheValuesInOrder) {
  const Tensor x = nn_test::normal({2, 12}, 1);
  const Tensor y = dm::nn::Unflatten(1, {3, 2, 2}).forward(x);
  EXPECT_EQ(y.shape(), (std::vector<std::int64_t>{2, 3, 2, 2}));
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  EXPECT_TRUE(y.shares_storage_with(x)) << "a contiguous input is viewed, not copied";
  EXPECT_EQ(dm::nn::Unflatten(-1, {4, 3}).forward(x).shape(), (std::vector<std::int64_t>{2, 4, 3}));
  EXPECT_EQ(dm::nn::Unflatten(0, {1, 2}).forward(x).shape(), (std::vector<std::int64_t>{1, 2, 12}));
  EXPECT_EQ(dm::nn::Unflatten(1, {1, 28, 28}).name(), "Unflatten(1 -> (1, 28, 28))");
}

TEST(Unflatten, GradientsFlowThrough) {
  const Tensor x = nn_test::leaf64({2, 6}, 2);
  dm::nn::Unflatten layer(1, {2, 3});
  const auto r = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return layer.forward(in[0]).tanh(); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Unflatten, RefusesInputsOfTheWrongSize) {
  dm::nn::Unflatten layer(1, {1, 28, 28});
  expect_throw_with<dm::ShapeError>([&] { layer.forward(Tensor::zeros({4, 780})); }, "holds 780 elements, (1, 28, 28) needs 784");
  expect_throw_with<dm::ShapeError>([&] { layer.forward(Tensor::zeros({784})); }, "out of range");
  EXPECT_THROW(dm::nn::Unflatten(1, {0, 4}), dm::ValueError);
}

}  // namespace
