// Elementwise results at the edges of IEEE arithmetic and of shapes: a -0.0 operand keeps its
// sign in every path (scalar, 0-d broadcast, vector body and tail), x^-0.5 is 1/sqrt(x) as in
// torch, clamp with a NaN bound is NaN, and in-place ops on empty tensors are no-ops. The
// references are IEEE arithmetic, computed here element by element.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Equal as IEEE values and in sign, so that -0.0 differs from +0.0; NaN equals NaN.
bool same_value(double got, double want) {
  if (std::isnan(want)) return std::isnan(got);
  return got == want && std::signbit(got) == std::signbit(want);
}

void expect_same_values(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(same_value(got[i], want[i])) << what << " at " << i << ": got " << got[i] << ", want " << want[i];
}

// Lengths that end inside the first vector, fill whole AVX2 and SSE vectors, and leave a tail.
const std::int64_t kLengths[] = {1, 4, 8, 37};

std::vector<double> mixed_values(std::int64_t n) {
  const double pattern[] = {1.0, -2.5, 0.0, -0.0, kInf, -kInf, 3.0};
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = pattern[i % 7];
  return v;
}

TEST(ElementwiseEdgeValues, NegativeZeroScalarKeepsItsSign) {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (std::int64_t n : kLengths) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " length " + std::to_string(n));
      const std::vector<double> xv = mixed_values(n);
      const Tensor x = Tensor::from_vector(xv).to(dtype);
      std::vector<double> div(xv.size()), rdiv(xv.size()), add(xv.size()), mul(xv.size()), sub(xv.size()),
          rsqrt(xv.size());
      for (std::size_t i = 0; i < xv.size(); ++i) {
        div[i] = xv[i] / -0.0;
        rdiv[i] = -0.0 / xv[i];
        add[i] = xv[i] + -0.0;
        mul[i] = xv[i] * -0.0;
        sub[i] = -0.0 - xv[i];
        // torch's x^-0.5: -inf at -0.0, where libm's pow gives +inf. Both steps are correctly
        // rounded IEEE operations, so in f32 they are done in f32.
        rsqrt[i] = dtype == DType::f32 ? 1.0f / std::sqrt(static_cast<float>(xv[i])) : 1.0 / std::sqrt(xv[i]);
      }
      expect_same_values((x / -0.0).to_vector<double>(), div, "x / -0.0");
      expect_same_values((-0.0 / x).to_vector<double>(), rdiv, "-0.0 / x");
      expect_same_values((x + -0.0).to_vector<double>(), add, "x + -0.0");
      expect_same_values((x * -0.0).to_vector<double>(), mul, "x * -0.0");
      expect_same_values((-0.0 - x).to_vector<double>(), sub, "-0.0 - x");
      expect_same_values(x.pow(-0.5).to_vector<double>(), rsqrt, "x^-0.5");
      // A 0-d -0.0 broadcast against x is read as a scalar by the kernel.
      const Tensor neg_zero = Tensor::scalar(-0.0, dtype);
      expect_same_values((x / neg_zero).to_vector<double>(), div, "x / tensor(-0.0)");
      expect_same_values((neg_zero / x).to_vector<double>(), rdiv, "tensor(-0.0) / x");
      // So is a row of -0.0 expanded down the rows of a matrix.
      const Tensor column = Tensor::full({n, 1}, -0.0, dtype).expand({n, 3});
      std::vector<double> ones_div(static_cast<std::size_t>(3 * n), -kInf);
      expect_same_values((Tensor::ones({n, 3}, dtype) / column).to_vector<double>(), ones_div, "ones / column of -0.0");
    }
  }
}

TEST(ElementwiseEdgeValues, ClampWithANaNBoundIsNaN) {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (std::int64_t n : kLengths) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " length " + std::to_string(n));
      const Tensor x = Tensor::from_vector(mixed_values(n)).to(dtype);
      const std::vector<double> all_nan(static_cast<std::size_t>(n), kNaN);
      expect_same_values(x.clamp(kNaN, 1.0).to_vector<double>(), all_nan, "clamp(nan, 1)");
      expect_same_values(x.clamp(-1.0, kNaN).to_vector<double>(), all_nan, "clamp(-1, nan)");
      expect_same_values(x.clamp(kNaN, kNaN).to_vector<double>(), all_nan, "clamp(nan, nan)");
      Tensor y = x.clone();
      y.clamp_(kNaN, 0.0);
      expect_same_values(y.to_vector<double>(), all_nan, "clamp_(nan, 0)");
    }
  }
  // An integer tensor clamped to a NaN bound computes in f32, as torch does: NaN too.
  const Tensor ints = Tensor::from_vector(std::vector<std::int64_t>{-3, 0, 5});
  const Tensor clamped = ints.clamp(kNaN, 1.0);
  EXPECT_EQ(clamped.dtype(), DType::f32);
  expect_same_values(clamped.to_vector<double>(), {kNaN, kNaN, kNaN}, "i64 clamp(nan, 1)");
  // Non-NaN bounds still let a NaN element through and keep the rest.
  const Tensor mixed = Tensor::from_vector(std::vector<double>{kNaN, -5.0, 0.5, 5.0});
  expect_same_values(mixed.clamp(-1.0, 1.0).to_vector<double>(), {kNaN, -1.0, 0.5, 1.0}, "clamp(-1, 1)");
}

TEST(ElementwiseEdgeValues, InPlaceOnEmptyTensorsIsANoOp) {
  // The contiguous strides of (2, 0) are (0, 1): dim 0 has size 2 and stride 0, but an empty
  // tensor is no expanded view; nothing is written.
  for (const Shape& shape : {Shape{2, 0}, Shape{0}, Shape{0, 3}, Shape{3, 0, 2}}) {
    SCOPED_TRACE(shape.str());
    Tensor x = Tensor::zeros(shape);
    EXPECT_NO_THROW(x.add_(1.0));
    EXPECT_NO_THROW(x.mul_(Tensor::ones(shape)));
    EXPECT_NO_THROW(x.sub_(Tensor::ones({})));
    EXPECT_NO_THROW(x.clamp_(0.0, 1.0));
    EXPECT_NO_THROW(x.exp_());
    EXPECT_EQ(x.shape(), shape);
    EXPECT_EQ(x.numel(), 0);
  }
  // A non-empty expanded view is still refused.
  Tensor expanded = Tensor::zeros({1, 3}).expand({2, 3});
  EXPECT_THROW(expanded.add_(1.0), ValueError);
}

}  // namespace
}  // namespace dm
