// nn::ParameterLayout: dense offsets in registration order, views that are the module's own
// parameters, comparison across modules, and typed errors for what cannot be laid out.
#include <gtest/gtest.h>

#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/parameter_layout.hpp"
#include "democratising/nn/sequential.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

nn::Sequential net_of(std::int64_t hidden, dm::DType dtype = dm::DType::f32) {
  return nn::Sequential().add(nn::Dense(3, hidden, true, dtype)).add(nn::ReLU()).add(nn::Dense(hidden, 2, true, dtype));
}

TEST(ParameterLayout, DenseOffsetsInRegistrationOrder) {
  nn::Sequential net = net_of(4);
  EXPECT_EQ(net.parameter_layout(), nullptr);  // not flattened yet
  const Tensor flat = net.flatten_parameters();
  const auto layout = net.parameter_layout();
  ASSERT_NE(layout, nullptr);
  ASSERT_EQ(layout->size(), 4u);
  const std::vector<std::pair<std::string, std::int64_t>> expected = {
      {"0.weight", 0}, {"0.bias", 12}, {"2.weight", 16}, {"2.bias", 24}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*layout)[i].name, expected[i].first);
    EXPECT_EQ((*layout)[i].offset, expected[i].second);
  }
  EXPECT_EQ((*layout)[2].shape, Shape({2, 4}));
  EXPECT_EQ(layout->numel(), 26);
  EXPECT_EQ(layout->dtype(), dm::DType::f32);
  EXPECT_EQ(layout->index_of("2.weight"), 2u);
  EXPECT_THROW((void)layout->index_of("3.weight"), dm::ValueError);

  // The module's parameters are exactly the layout's views of its block.
  std::vector<Tensor> params = net.parameters();
  EXPECT_TRUE(layout->describes(params, flat));
  const std::vector<Tensor> views = layout->views(flat);
  for (std::size_t i = 0; i < views.size(); ++i) {
    EXPECT_EQ(views[i].data_ptr(), params[i].data_ptr()) << i;
    EXPECT_EQ(views[i].to_vector<float>(), params[i].to_vector<float>()) << i;
  }
  // Flattening again keeps block and layout.
  EXPECT_EQ(net.flatten_parameters().data_ptr(), flat.data_ptr());
  EXPECT_EQ(net.parameter_layout(), layout);
}

TEST(ParameterLayout, NewBlocksAndTheirViews) {
  nn::Sequential net = net_of(4);
  net.flatten_parameters();
  const auto& layout = *net.parameter_layout();
  const Tensor zeros = layout.allocate();
  EXPECT_EQ(zeros.shape(), Shape({26}));
  for (float v : zeros.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  const Tensor f64 = layout.allocate(dm::DType::f64);
  EXPECT_EQ(f64.dtype(), dm::DType::f64);
  const nn::NamedTensors named = layout.named_views(f64);
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[1].first, "0.bias");
  EXPECT_EQ(named[1].second.dtype(), dm::DType::f64);
  EXPECT_EQ(named[1].second.storage_offset(), 12);
  // A block of this layout but another dtype is not the module's own.
  EXPECT_FALSE(layout.describes(layout.views(f64), f64));
  EXPECT_THROW((void)layout.views(Tensor::zeros({25})), dm::ShapeError);
  EXPECT_THROW((void)layout.views(Tensor::zeros({2, 13})), dm::ShapeError);
}

TEST(ParameterLayout, EqualityAndFingerprintSeeNamesShapesAndDtype) {
  auto layout_of = [](nn::Sequential net) {
    net.flatten_parameters();
    return net.parameter_layout();
  };
  const auto a = layout_of(net_of(4));
  const auto b = layout_of(net_of(4));
  EXPECT_TRUE(*a == *b);
  EXPECT_EQ(a->fingerprint(), b->fingerprint());
  for (const auto& other : {layout_of(net_of(5)), layout_of(net_of(4, dm::DType::f64))}) {
    EXPECT_FALSE(*a == *other);
    EXPECT_NE(a->fingerprint(), other->fingerprint());
  }
  // Same shapes under other names.
  const auto renamed = nn::ParameterLayout::of({{"w", Tensor::zeros({4, 3})}, {"b", Tensor::zeros({4})}});
  const auto original = nn::ParameterLayout::of({{"v", Tensor::zeros({4, 3})}, {"b", Tensor::zeros({4})}});
  EXPECT_FALSE(*renamed == *original);
  EXPECT_NE(renamed->fingerprint(), original->fingerprint());
}

TEST(ParameterLayout, MixedDtypesAndDuplicateNamesAreRefused) {
  EXPECT_THROW(nn::ParameterLayout::of({{"a", Tensor::zeros({2})}, {"b", Tensor::zeros({2}, dm::DType::f64)}}),
               dm::DTypeError);
  EXPECT_THROW(nn::ParameterLayout::of({{"a", Tensor::zeros({2})}, {"a", Tensor::zeros({3})}}), dm::ValueError);
  EXPECT_THROW(nn::ParameterLayout::of({{"a", Tensor()}}), dm::ValueError);
  const auto empty = nn::ParameterLayout::of({});
  EXPECT_EQ(empty->numel(), 0);
  EXPECT_EQ(empty->size(), 0u);
}

}  // namespace
