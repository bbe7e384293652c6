// max_pool2d, avg_pool2d and adaptive_avg_pool2d forward and backward against the naive loops
// of conv_reference.hpp, on contiguous and transposed inputs, f32 and f64.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "conv_reference.hpp"
#include "democratising/nn/conv.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
using conv_ref::Pool;

struct PoolCase {
  std::string name;
  std::int64_t n, c;
  Pool p;
};

std::vector<PoolCase> window_cases() {
  return {
      {"k2", 2, 3, {0, 6, 6, 2, 2, 2, 2}},
      {"k3_s2_p1", 2, 2, {0, 7, 6, 3, 3, 2, 2, 1, 1}},
      {"k3x2_s1x2_p1x0", 1, 3, {0, 5, 7, 3, 2, 1, 2, 1, 0}},
      {"k2_s1_dil2", 1, 2, {0, 6, 6, 2, 2, 1, 1, 0, 0, 2, 2}},
      {"k3_s3_ragged", 2, 1, {0, 8, 7, 3, 3, 3, 3}},
  };
}

// Inputs: the case's x, optionally stored with H and W swapped and seen through a transpose.
Tensor input(const PoolCase& c, DType dtype, bool strided) {
  const Pool& p = c.p;
  Tensor x = strided ? normal({c.n, c.c, p.w, p.h}, 21, dtype).transpose(2, 3)
                     : normal({c.n, c.c, p.h, p.w}, 21, dtype);
  x.set_requires_grad();
  return x;
}

double rtol_of(DType d) { return d == DType::f64 ? kRtol64 : kRtol32; }
double atol_of(DType d) { return d == DType::f64 ? kAtol64 : kAtol32; }

class PoolReference : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolReference, MaxPool) {
  for (DType dtype : {DType::f32, DType::f64})
    for (bool strided : {false, true}) {
      const PoolCase& c = GetParam();
      Pool p = c.p;
      p.planes = c.n * c.c;
      Tensor x = input(c, dtype, strided);
      const Tensor y = dm::nn::max_pool2d(x, {p.kh, p.kw}, dm::nn::Size2{p.sh, p.sw}, {p.ph, p.pw}, {p.dh, p.dw});
      ASSERT_EQ(y.shape(), Shape({c.n, c.c, p.oh(), p.ow()}));
      const Tensor g = normal(y.shape(), 22, dtype);
      y.backward(g);
      const auto ref = conv_ref::max_pool2d(p, x.contiguous().to_vector<double>(), g.to_vector<double>());
      // A maximum is one of the inputs and its gradient a sum of a few upstream values: exact
      // in f64, and in f32 up to the rounding of those few additions.
      expect_close(y, ref.y, 0.0, 0.0, "y");
      expect_close(x.grad(), ref.dx, rtol_of(dtype), atol_of(dtype), "dx");
    }
}

TEST_P(PoolReference, AvgPool) {
  PoolCase c = GetParam();
  c.p.dh = c.p.dw = 1;  // avg_pool2d has no dilation: the dilated case runs undilated
  for (DType dtype : {DType::f32, DType::f64})
    for (bool strided : {false, true})
      for (bool include_pad : {true, false}) {
        Pool p = c.p;
        p.planes = c.n * c.c;
        Tensor x = input(c, dtype, strided);
        const Tensor y = dm::nn::avg_pool2d(x, {p.kh, p.kw}, dm::nn::Size2{p.sh, p.sw}, {p.ph, p.pw}, include_pad);
        ASSERT_EQ(y.shape(), Shape({c.n, c.c, p.oh(), p.ow()}));
        const Tensor g = normal(y.shape(), 23, dtype);
        y.backward(g);
        const auto ref =
            conv_ref::avg_pool2d(p, include_pad, x.contiguous().to_vector<double>(), g.to_vector<double>());
        expect_close(y, ref.y, rtol_of(dtype), atol_of(dtype), "y");
        expect_close(x.grad(), ref.dx, rtol_of(dtype), atol_of(dtype), "dx");
      }
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolReference, ::testing::ValuesIn(window_cases()),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

struct AdaptiveCase {
  std::string name;
  std::int64_t n, c, h, w, oh, ow;
};

class AdaptiveReference : public ::testing::TestWithParam<AdaptiveCase> {};

TEST_P(AdaptiveReference, MatchesLoops) {
  const AdaptiveCase& c = GetParam();
  for (DType dtype : {DType::f32, DType::f64}) {
    Tensor x = normal({c.n, c.c, c.h, c.w}, 31, dtype);
    x.set_requires_grad();
    const Tensor y = dm::nn::adaptive_avg_pool2d(x, {c.oh, c.ow});
    ASSERT_EQ(y.shape(), Shape({c.n, c.c, c.oh, c.ow}));
    const Tensor g = normal(y.shape(), 32, dtype);
    y.backward(g);
    const auto ref =
        conv_ref::adaptive_avg_pool2d(c.n * c.c, c.h, c.w, c.oh, c.ow, x.to_vector<double>(), g.to_vector<double>());
    expect_close(y, ref.y, rtol_of(dtype), atol_of(dtype), "y");
    expect_close(x.grad(), ref.dx, rtol_of(dtype), atol_of(dtype), "dx");
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, AdaptiveReference,
                         ::testing::Values(AdaptiveCase{"7x7_to_3x3", 2, 2, 7, 7, 3, 3},
                                           AdaptiveCase{"5x6_to_2x4", 1, 3, 5, 6, 2, 4},
                                           AdaptiveCase{"4x4_to_1x1", 2, 2, 4, 4, 1, 1},
                                           AdaptiveCase{"3x3_to_5x4_upsampling", 1, 2, 3, 3, 5, 4},
                                           AdaptiveCase{"8x8_to_4x4_exact", 1, 1, 8, 8, 4, 4}),
                         [](const ::testing::TestParamInfo<AdaptiveCase>& info) { return info.param.name; });

TEST(MaxPool2d, NanWinsAndPaddingNeverDoes) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<double>{-5, -6, nan, -7}, {1, 1, 2, 2});
  const auto y = dm::nn::max_pool2d(x, 2).to_vector<double>();
  ASSERT_EQ(y.size(), 1u);
  EXPECT_TRUE(std::isnan(y[0]));
  // All-negative input with padding: the padding's zeros are not candidates.
  const Tensor neg = Tensor::from_vector(std::vector<double>{-5, -6, -8, -7}, {1, 1, 2, 2});
  expect_close(dm::nn::max_pool2d(neg, 2, dm::nn::Size2{1}, 1), {-5, -5, -6, -5, -5, -6, -8, -7, -7}, 0.0, 0.0);
}

TEST(AvgPool2d, UnbatchedInputGivesUnbatchedOutput) {
  const Tensor x = normal({3, 4, 4}, 5, DType::f64);
  const Tensor y = dm::nn::avg_pool2d(x, 2);
  ASSERT_EQ(y.shape(), Shape({3, 2, 2}));
  expect_close(y, dm::nn::avg_pool2d(x.unsqueeze(0), 2).reshape({3, 2, 2}).to_vector<double>(), 0.0, 0.0);
}

}  // namespace

// Equal values: the first element of each window (in row order) takes the gradient, whichever
// kernel path the window goes through (2x2 stride 2, windows inside the input, padded ones).
TEST(MaxPool2d, TiesGoToTheFirstElementOfTheWindow) {
  struct Case {
    std::int64_t kernel, stride, pad;
    std::vector<double> expected;  // the 4x4 input's gradient for an upstream gradient of ones
  };
  const std::vector<Case> cases = {
      {2, 2, 0, {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}},
      {3, 1, 0, {1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
      {2, 1, 1, {4, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1}},
  };
  for (const Case& c : cases) {
    Tensor x = Tensor::ones({1, 1, 4, 4}, DType::f64);
    x.set_requires_grad();
    const Tensor y = dm::nn::max_pool2d(x, {c.kernel, c.kernel}, dm::nn::Size2{c.stride}, {c.pad, c.pad});
    y.backward(Tensor::ones(y.shape(), DType::f64));
    expect_close(x.grad(), c.expected, 0.0, 0.0, "dx");
  }
}
