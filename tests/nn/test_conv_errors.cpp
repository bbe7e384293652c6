// Bad arguments to conv2d and the pooling ops and layers are typed errors that name the op
// and the shapes, never a crash or a silently wrong result.
#include <gtest/gtest.h>

#include "democratising/base/error.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/nn/layers.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

TEST(ConvErrors, Conv2dShapes) {
  const Tensor x = normal({2, 3, 5, 5}, 1), w = normal({4, 3, 3, 3}, 2);
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(normal({2, 2, 5, 5}, 1), w); },
                                    "[conv2d] x (2, 2, 5, 5) vs weight (4, 3, 3, 3): x has 2 channels");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(normal({3, 5, 5, 1, 1}, 1), w); }, "[conv2d] x must be 4-d");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(normal({5, 5}, 1), w); }, "got shape (5, 5)");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, normal({4, 3, 3}, 2)); }, "[conv2d] weight must be 4-d");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, normal({4, 3, 6, 3}, 2)); },
                                    "height window spans 6 (kernel 6, dilation 1) but the padded input has 5");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), 1, 0, 3); }, "window spans 7");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, normal({4, 1, 3, 3}, 2), Tensor(), 1, 0, 1, 2); },
                                    "groups 2 does not divide the 3 input channels");
  expect_throw_with<dm::ShapeError>(
      [&] { nn::conv2d(normal({2, 4, 5, 5}, 1), normal({3, 2, 3, 3}, 2), Tensor(), 1, 0, 1, 2); },
                                    "groups 2 does not divide the 3 output channels");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), 1, 0, 1, 0); }, "groups must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), 0); }, "[conv2d] stride must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), {1, -2}); },
                                    "stride must be positive, got (1, -2)");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), 1, -1); }, "padding must be non-negative");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, Tensor(), 1, 0, 0); }, "dilation must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(x, w, normal({3}, 3)); }, "[conv2d] bias (3,) vs weight");
  expect_throw_with<dm::ShapeError>([&] { nn::conv2d(normal({2, 3, 0, 5}, 1), w); }, "empty channel or spatial dim");
}

TEST(ConvErrors, Conv2dDtypesAndDevices) {
  const Tensor x = normal({1, 1, 4, 4}, 1), w = normal({1, 1, 2, 2}, 2);
  expect_throw_with<dm::DTypeError>([&] { nn::conv2d(x.to(DType::f64), w); }, "[conv2d] x f64, weight f32");
  expect_throw_with<dm::DTypeError>([&] { nn::conv2d(x.to(DType::i64), w.to(DType::i64)); }, "[conv2d] x must be");
  expect_throw_with<dm::ValueError>([&] { nn::conv2d(Tensor(), w); }, "[conv2d] called on an undefined tensor");
}

TEST(ConvErrors, Pooling) {
  const Tensor x = normal({1, 2, 5, 5}, 1);
  expect_throw_with<dm::ShapeError>([&] { nn::max_pool2d(x, 0); }, "[max_pool2d] kernel_size must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::max_pool2d(x, 2, nn::Size2{0}); },
                                    "[max_pool2d] stride must be positive");
  expect_throw_with<dm::ShapeError>([&] { nn::max_pool2d(x, 2, std::nullopt, 2); },
                                    "padding (2, 2) must be at most half the kernel_size (2, 2)");
  expect_throw_with<dm::ShapeError>([&] { nn::max_pool2d(x, 6); }, "[max_pool2d] x (1, 2, 5, 5): the height window");
  expect_throw_with<dm::ShapeError>([&] { nn::max_pool2d(x, 3, std::nullopt, 0, 3); }, "window spans 7");
  expect_throw_with<dm::ShapeError>([&] { nn::avg_pool2d(x, {2, 7}); },
                                    "[avg_pool2d] x (1, 2, 5, 5): the width window");
  expect_throw_with<dm::ShapeError>([&] { nn::avg_pool2d(x, 3, std::nullopt, -1); }, "padding must be non-negative");
  expect_throw_with<dm::ShapeError>([&] { nn::avg_pool2d(normal({5, 5}, 1), 2); }, "[avg_pool2d] x must be 4-d");
  expect_throw_with<dm::ShapeError>([&] { nn::adaptive_avg_pool2d(x, {0, 2}); },
                                    "[adaptive_avg_pool2d] output_size must be positive, got (0, 2)");
  expect_throw_with<dm::DTypeError>([&] { nn::max_pool2d(x.to(DType::i32), 2); }, "[max_pool2d] x must be");
}

TEST(ConvErrors, Layers) {
  expect_throw_with<dm::ShapeError>([] { nn::Conv2d(3, 4, 3, 1, 0, 1, 2); }, "[Conv2d] groups 2");
  expect_throw_with<dm::ShapeError>([] { nn::Conv2d(0, 4, 3); }, "[Conv2d] channels must be positive");
  expect_throw_with<dm::ShapeError>([] { nn::Conv2d(1, 4, {3, 0}); }, "[Conv2d] kernel_size must be positive");
  expect_throw_with<dm::DTypeError>([] { nn::Conv2d(1, 4, 3, 1, 0, 1, 1, true, DType::i32); }, "[Conv2d] parameters");
  expect_throw_with<dm::ShapeError>([] { nn::MaxPool2d(2, std::nullopt, 2); }, "[MaxPool2d] padding");
  expect_throw_with<dm::ShapeError>([] { nn::AvgPool2d(2, nn::Size2{0}); }, "[AvgPool2d] stride");
  expect_throw_with<dm::ShapeError>([] { nn::AdaptiveAvgPool2d(0); }, "[AdaptiveAvgPool2d] output_size");
  // A layer whose window is fine but too large for the image fails on the input, naming it.
  const nn::Conv2d conv(1, 2, 5);
  expect_throw_with<dm::ShapeError>([&] { conv.forward(normal({1, 1, 4, 4}, 1)); }, "[conv2d] x (1, 1, 4, 4)");
  expect_throw_with<dm::ShapeError>([&] { conv.forward(normal({1, 3, 8, 8}, 1)); }, "x has 3 channels");
}

}  // namespace
