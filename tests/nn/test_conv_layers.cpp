// The Conv2d, MaxPool2d, AvgPool2d and AdaptiveAvgPool2d layers: parameters and their
// initialisation, use in Sequential, training steps, and a checkpoint round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "democratising/model/model.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "io/temp_dir.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

TEST(Conv2dLayer, ParametersAndInitialisationLikeTorch) {
  dm::manual_seed(3);
  const nn::Conv2d conv(4, 6, {3, 2}, 1, 0, 1, 2);
  const auto named = conv.named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[1].first, "bias");
  EXPECT_EQ(conv.weight().shape(), Shape({6, 2, 3, 2}));
  ASSERT_NE(conv.bias(), nullptr);
  EXPECT_EQ(conv.bias()->shape(), Shape({6}));
  EXPECT_TRUE(conv.weight().requires_grad());
  // fan_in = in / groups * kH * kW = 2 * 3 * 2 = 12: U(-1/sqrt(12), 1/sqrt(12)).
  const double bound = 1.0 / std::sqrt(12.0);
  for (const Tensor& t : {conv.weight(), *conv.bias()}) {
    const auto v = t.to_vector<double>();
    double largest = 0.0;
    for (double e : v) largest = std::max(largest, std::abs(e));
    EXPECT_LE(largest, bound);
    EXPECT_GT(largest, 0.5 * bound);  // the values spread over the range
  }
  EXPECT_EQ(conv.name(), "Conv2d(4 -> 6, kernel (3, 2), groups 2)");
  EXPECT_EQ(nn::Conv2d(1, 2, 3, 1, 0, 1, 1, false).bias(), nullptr);
  EXPECT_EQ(nn::Conv2d(1, 2, 3, 1, 0, 1, 1, false).named_parameters().size(), 1u);
}

TEST(Conv2dLayer, ForwardIsTheOp) {
  dm::manual_seed(4);
  const nn::Conv2d conv(2, 3, 3, 2, 1, 1, 1, true, DType::f64);
  const Tensor x = normal({2, 2, 7, 7}, 5, DType::f64);
  const Tensor want = nn::conv2d(x, conv.weight(), *conv.bias(), 2, 1);
  EXPECT_EQ(conv(x).to_vector<double>(), want.to_vector<double>());
  EXPECT_EQ(nn::MaxPool2d(2)(x).to_vector<double>(), nn::max_pool2d(x, 2).to_vector<double>());
  EXPECT_EQ(nn::AvgPool2d(3, nn::Size2{2}, 1, false)(x).to_vector<double>(),
            nn::avg_pool2d(x, 3, nn::Size2{2}, 1, false).to_vector<double>());
  EXPECT_EQ(nn::AdaptiveAvgPool2d({2, 3})(x).to_vector<double>(),
            nn::adaptive_avg_pool2d(x, {2, 3}).to_vector<double>());
}

dm::Model small_cnn(std::uint64_t seed) {
  dm::manual_seed(seed);
  return nn::Sequential()
      .add(nn::Conv2d(1, 4, 3, 1, 1))
      .add(nn::ReLU())
      .add(nn::MaxPool2d(2))
      .add(nn::Conv2d(4, 8, 3, 1, 1))
      .add(nn::ReLU())
      .add(nn::AvgPool2d(2))
      .add(nn::AdaptiveAvgPool2d(1))
      .add(nn::Flatten())
      .add(nn::Dense(8, 3))
      .build();
}

TEST(ConvLayers, SequentialCnnTrainsAndNamesItsParameters) {
  dm::Model model = small_cnn(7);
  std::vector<std::string> names;
  for (const auto& [name, p] : model.module().named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias"}));
  const Tensor x = normal({6, 1, 8, 8}, 8);
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2}, Shape{6});
  const double first = model.train_step(x, y).item<double>();
  double last = first;
  for (int i = 0; i < 30; ++i) last = model.train_step(x, y).item<double>();
  EXPECT_LT(last, first);  // it learns: gradients reach every conv parameter
  for (const auto& [name, p] : model.module().named_parameters()) EXPECT_TRUE(p.requires_grad()) << name;
}

TEST(ConvLayers, CheckpointRoundTrip) {
  dm::testing::TempDir dir;
  const std::string path = dir.file("cnn.safetensors");
  dm::Model trained = small_cnn(1);
  trained.train_step(normal({4, 1, 8, 8}, 2), Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 1}, Shape{4}));
  trained.save_checkpoint(path);
  dm::Model fresh = small_cnn(2);
  fresh.load_checkpoint(path);
  const auto a = trained.module().named_parameters(), b = fresh.module().named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<float>(), b[i].second.to_vector<float>()) << a[i].first;
  }
  const Tensor x = normal({3, 1, 8, 8}, 9);
  EXPECT_EQ(trained.predict(x).to_vector<float>(), fresh.predict(x).to_vector<float>());
}

}  // namespace
