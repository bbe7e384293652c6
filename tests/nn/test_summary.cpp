// nn::summary: the layers, output shapes and parameter counts of every module kind, checked
// against counts worked out by hand from the layers' definitions.
#include "democratising/nn/summary.hpp"

#include <gtest/gtest.h>

#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

namespace nn = dm::nn;
using dm::Shape;

TEST(Summary, EveryModuleKindInASequential) {
  nn::Sequential net;
  net.add(nn::Flatten())
      .add(nn::Dense(784, 32))
      .add(nn::ReLU())
      .add(nn::Dropout(0.25))
      .add(nn::LayerNorm(Shape{32}))
      .add(nn::GELU())
      .add(nn::Dense(32, 16, /*bias=*/false))
      .add(nn::Sigmoid())
      .add(nn::Tanh())
      .add(nn::Dense(16, 10))
      .add(nn::Softmax())
      .add(nn::LogSoftmax());
  const auto rows = nn::summary(net, {3, 28, 28});
  const struct {
    const char* path;
    const char* layer;
    Shape shape;
    std::int64_t parameters;
  } expected[] = {
      {"0", "Flatten", {3, 784}, 0},
      {"1", "Dense(784 -> 32)", {3, 32}, 784 * 32 + 32},
      {"2", "ReLU", {3, 32}, 0},
      {"3", "Dropout(p=0.25)", {3, 32}, 0},
      {"4", "LayerNorm((32), eps=1e-05)", {3, 32}, 32 + 32},
      {"5", "GELU", {3, 32}, 0},
      {"6", "Dense(32 -> 16, no bias)", {3, 16}, 32 * 16},
      {"7", "Sigmoid", {3, 16}, 0},
      {"8", "Tanh", {3, 16}, 0},
      {"9", "Dense(16 -> 10)", {3, 10}, 16 * 10 + 10},
      {"10", "Softmax", {3, 10}, 0},
      {"11", "LogSoftmax", {3, 10}, 0},
  };
  ASSERT_EQ(rows.size(), std::size(expected));
  std::int64_t total = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(expected[i].path);
    EXPECT_EQ(rows[i].path, expected[i].path);
    EXPECT_EQ(rows[i].output_shape, expected[i].shape);
    EXPECT_EQ(rows[i].parameters, expected[i].parameters);
    total += rows[i].parameters;
    if (i != 4) {  // LayerNorm's text for eps is the layer's own business
      EXPECT_EQ(rows[i].layer, expected[i].layer);
    }
  }
  EXPECT_EQ(rows[4].layer.rfind("LayerNorm", 0), 0u) << rows[4].layer;
  EXPECT_EQ(total, net.num_parameters());
  // The probe ran in evaluation mode without touching the module's own mode.
  EXPECT_TRUE(net.is_training());
}

TEST(Summary, NestedSequentialsAndSingleLayers) {
  nn::Sequential inner;
  inner.add(nn::Dense(8, 4)).add(nn::Tanh());
  nn::Sequential outer;
  outer.add(nn::Dense(5, 8)).add(std::move(inner)).add(nn::Dense(4, 2));
  const auto rows = nn::summary(outer, {1, 5});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].path, "1.0");
  EXPECT_EQ(rows[2].path, "1.1");
  EXPECT_EQ(rows[3].path, "2");
  EXPECT_EQ(rows[3].output_shape, (Shape{1, 2}));
  // Paths are the prefixes of the parameter names.
  EXPECT_EQ(outer.named_parameters()[2].first, "1.0.weight");

  const nn::Dense alone(3, 7);
  const auto single = nn::summary(alone, {2, 3});
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].path, "");
  EXPECT_EQ(single[0].output_shape, (Shape{2, 7}));
  EXPECT_EQ(single[0].parameters, 3 * 7 + 7);
  EXPECT_TRUE(nn::summary(nn::Sequential(), {2, 3}).empty());
}

TEST(Summary, AnInputTheNetworkRefusesNamesTheLayer) {
  nn::Sequential net = nn::mlp_from_spec("mlp:100-10");
  nn_test::expect_throw_with<dm::ShapeError>([&] { nn::summary(net, {1, 784}); }, "[summary] layer 0 Dense(100 -> 10)");
}

TEST(Summary, TableHasEveryLayerAndTheTotal) {
  const nn::Sequential net = nn::mlp_from_spec("mlp:784-128-10");
  const std::string table = nn::summary_table(nn::summary(net, {1, 784}));
  for (const char* part : {"Dense(784 -> 128)", "ReLU", "Dense(128 -> 10)", "(1, 128)", "(1, 10)", "100,480", "1,290",
                           "101,770", "total"})
    EXPECT_NE(table.find(part), std::string::npos) << part << "\n" << table;
}

}  // namespace
