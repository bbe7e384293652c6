// nn::conv2d forward and backward against the naive loops of conv_reference.hpp, over
// stride, padding, dilation, groups, bias, the 1x1 fast path, batches that are not a multiple
// of the weight gradient's chunk, 3-d inputs and non-contiguous views; f32 and f64.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "conv_reference.hpp"
#include "democratising/nn/conv.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
using conv_ref::Conv;

struct ConvCase {
  std::string name;
  Conv p;
  bool bias = true;
};

std::vector<ConvCase> conv_cases() {
  return {
      {"basic_3x3", {2, 3, 7, 7, 4, 3, 3}},
      {"stride2_pad1_rect", {2, 2, 8, 9, 3, 3, 2, 2, 2, 1, 1}},
      {"dilation2_pad2", {1, 2, 9, 9, 2, 3, 3, 1, 1, 2, 2, 2, 2}},
      {"groups2_stride21", {3, 4, 6, 5, 6, 3, 3, 2, 1, 1, 1, 1, 1, 2}},
      {"depthwise_no_bias", {2, 3, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3}, false},
      {"pointwise_1x1", {5, 3, 4, 4, 2, 1, 1}},
      {"pointwise_1x1_strided", {2, 3, 5, 5, 2, 1, 1, 2, 2}},
      {"batch9_kernel_2x2_stride2", {9, 2, 6, 6, 3, 2, 2, 2, 2}},
      {"kernel_as_large_as_padded_input", {2, 2, 3, 4, 3, 5, 6, 1, 1, 1, 1}},
      {"mixed_pad_dilation", {2, 2, 6, 7, 2, 2, 3, 1, 2, 0, 1, 1, 2}},
  };
}

void check_case(const ConvCase& c, DType dtype, bool strided_x) {
  const Conv& p = c.p;
  const Shape x_shape{p.n, p.c, p.h, p.w}, w_shape{p.oc, p.c / p.groups, p.kh, p.kw};
  // A strided x: the same values stored (N, C, W, H) and seen through a transpose.
  Tensor x = strided_x ? normal({p.n, p.c, p.w, p.h}, 11, dtype).transpose(2, 3) : normal(x_shape, 11, dtype);
  Tensor w = normal(w_shape, 12, dtype), b = c.bias ? normal({p.oc}, 13, dtype) : Tensor();
  x.set_requires_grad();
  w.set_requires_grad();
  if (b.defined()) b.set_requires_grad();
  const Tensor y = dm::nn::conv2d(x, w, b, {p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw}, p.groups);
  ASSERT_EQ(y.shape(), Shape({p.n, p.oc, p.oh(), p.ow()}));
  ASSERT_EQ(y.dtype(), dtype);
  const Tensor g = normal(y.shape(), 14, dtype);
  y.backward(g);

  const auto ref = conv_ref::conv2d(p, x.contiguous().to_vector<double>(), w.to_vector<double>(),
                                    c.bias ? b.to_vector<double>() : std::vector<double>(), g.to_vector<double>());
  // f32: PyTorch's tolerances hold for these sizes (sums of at most ~150 products of N(0, 1)
  // values, rounded in another order than the f64 loops).
  const double rtol = dtype == DType::f64 ? kRtol64 : kRtol32;
  const double atol = dtype == DType::f64 ? kAtol64 : kAtol32;
  expect_close(y, ref.y, rtol, atol, "y");
  expect_close(x.grad(), ref.dx, rtol, atol, "dx");
  expect_close(w.grad(), ref.dw, rtol, atol, "dw");
  if (c.bias) expect_close(b.grad(), ref.db, rtol, atol, "db");
}

class Conv2dReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dReference, F64MatchesLoops) { check_case(GetParam(), DType::f64, false); }
TEST_P(Conv2dReference, F32MatchesLoops) { check_case(GetParam(), DType::f32, false); }
TEST_P(Conv2dReference, TransposedInputMatchesLoops) { check_case(GetParam(), DType::f64, true); }

INSTANTIATE_TEST_SUITE_P(Cases, Conv2dReference, ::testing::ValuesIn(conv_cases()),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

TEST(Conv2d, UnbatchedInputGivesUnbatchedOutput) {
  const Tensor x = normal({2, 5, 5}, 1, DType::f64), w = normal({3, 2, 3, 3}, 2, DType::f64);
  const Tensor y = dm::nn::conv2d(x, w, Tensor(), 1, 1);
  ASSERT_EQ(y.shape(), Shape({3, 5, 5}));
  const Tensor batched = dm::nn::conv2d(x.unsqueeze(0), w, Tensor(), 1, 1);
  expect_close(y, batched.reshape({3, 5, 5}).to_vector<double>(), 0.0, 0.0);
}

TEST(Conv2d, EmptyBatchGivesZeroWeightGradient) {
  Tensor x = Tensor::zeros({0, 2, 4, 4}, DType::f64), w = normal({3, 2, 3, 3}, 2, DType::f64);
  Tensor b = normal({3}, 3, DType::f64);
  w.set_requires_grad();
  b.set_requires_grad();
  const Tensor y = dm::nn::conv2d(x, w, b);
  ASSERT_EQ(y.shape(), Shape({0, 3, 2, 2}));
  y.sum().backward();
  expect_close(w.grad(), std::vector<double>(54, 0.0), 0.0, 0.0, "dw");
  expect_close(b.grad(), std::vector<double>(3, 0.0), 0.0, 0.0, "db");
}

TEST(Conv2d, Bf16ComputesInF32) {
  const Tensor x = normal({1, 2, 5, 5}, 1), w = normal({2, 2, 3, 3}, 2);
  const Tensor want = dm::nn::conv2d(x.to(DType::bf16).to(DType::f32), w.to(DType::bf16).to(DType::f32));
  const Tensor got = dm::nn::conv2d(x.to(DType::bf16), w.to(DType::bf16));
  EXPECT_EQ(got.dtype(), DType::bf16);
  expect_close(got.to(DType::f32), want.to(DType::bf16).to(DType::f32).to_vector<double>(), 0.0, 0.0);
}

}  // namespace
