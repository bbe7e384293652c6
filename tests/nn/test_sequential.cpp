// Sequential: order, names, and the "mlp:..." spec parser.
#include <gtest/gtest.h>

#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

TEST(Sequential, AppliesLayersInOrder) {
  nn::Sequential net;
  net.add(nn::Dense(4, 3)).add(nn::Tanh()).add(nn::Dense(3, 2));
  EXPECT_EQ(net.size(), 3u);
  const Tensor x = normal({5, 4}, 1);
  const auto& first = static_cast<const nn::Dense&>(*net[0]);
  const auto& last = static_cast<const nn::Dense&>(*net[2]);
  const Tensor expected = nn::linear(nn::linear(x, first.weight(), *first.bias()).tanh(), last.weight(), *last.bias());
  EXPECT_EQ(net(x).to_vector<float>(), expected.to_vector<float>());
  EXPECT_EQ(net.name(), "Sequential(Dense(4 -> 3), Tanh, Dense(3 -> 2))");
  EXPECT_THROW(net.add_shared(nullptr), dm::ValueError);
}

TEST(Sequential, MlpFromSpec) {
  const nn::Sequential net = nn::mlp_from_spec("mlp:784-128-64-10");
  EXPECT_EQ(net.name(), "Sequential(Dense(784 -> 128), ReLU, Dense(128 -> 64), ReLU, Dense(64 -> 10))");
  EXPECT_EQ(net.num_parameters(), 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
  EXPECT_EQ(nn::mlp_from_spec("mlp:3-2").name(), "Sequential(Dense(3 -> 2))");
}

TEST(Sequential, MalformedSpecsNameTheSpec) {
  for (const std::string spec : {"784-10", "mlp:", "mlp:784", "mlp:784--10", "mlp:784-10-", "mlp:a-10", "mlp:0-10",
                                 "mlp:784-1x0", "MLP:784-10", "mlp:-3-10"}) {
    expect_throw_with<dm::ValueError>([&] { nn::mlp_from_spec(spec); }, "'" + spec + "'");
  }
}

}  // namespace
