// var and std against a naive two-pass reference in long double: every subset of dims,
// keepdim, several corrections (torch.var(correction=)), strided inputs, the blocked kernel
// paths, inputs with a large mean, degenerate divisors and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::DType;
using dm::Shape;
using dm::Tensor;
using dm_test::all_indices;
using dm_test::at;
using dm_test::error_of;
using dm_test::Index;
using testing::AllOf;
using testing::HasSubstr;

namespace {

using Mask = std::uint32_t;

Shape keep_shape(const Shape& s, Mask mask) {
  Shape out;
  for (int d = 0; d < s.size(); ++d) out.push_back((mask >> d) & 1u ? 1 : s[d]);
  return out;
}

// var of every output's slice (keepdim layout, row-major), two-pass in long double.
std::vector<long double> ref_var(const Tensor& x, Mask mask, std::int64_t correction) {
  const Shape ks = keep_shape(x.shape(), mask);
  std::vector<std::vector<long double>> groups(static_cast<std::size_t>(ks.numel()));
  for (const Index& idx : all_indices(x.shape())) {
    std::int64_t o = 0;
    for (int d = 0; d < ks.size(); ++d) o = o * ks[d] + ((mask >> d) & 1u ? 0 : idx[static_cast<std::size_t>(d)]);
    groups[static_cast<std::size_t>(o)].push_back(static_cast<long double>(at(x, idx)));
  }
  std::vector<long double> out;
  for (const auto& g : groups) {
    long double mean = 0, ss = 0;
    for (long double v : g) mean += v;
    mean /= static_cast<long double>(g.size());
    for (long double v : g) ss += (v - mean) * (v - mean);
    const auto divisor = static_cast<long double>(std::max<std::int64_t>(0, static_cast<std::int64_t>(g.size()) - correction));
    out.push_back(ss / divisor);
  }
  return out;
}

void expect_close(const Tensor& got, const std::vector<long double>& want, bool take_sqrt, DType dt) {
  // f32: PyTorch's assert_close defaults; f64 a little looser than 1e-12 only because var
  // squares its inputs' rounding.
  const double rtol = dt == DType::f64 ? 1e-11 : 1.3e-6, atol = dt == DType::f64 ? 1e-12 : 1e-5;
  const auto g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size());
  for (std::size_t k = 0; k < g.size(); ++k) {
    const double w = static_cast<double>(take_sqrt ? std::sqrt(want[k]) : want[k]);
    if (std::isnan(w) || std::isinf(w)) {
      EXPECT_TRUE(std::isnan(w) ? std::isnan(g[k]) : g[k] == w) << "at " << k << ": got " << g[k] << ", want " << w;
    } else {
      ASSERT_LE(std::abs(g[k] - w), atol + rtol * std::abs(w)) << "at " << k << ": got " << g[k] << ", want " << w;
    }
  }
}

std::vector<std::int64_t> dims_of(Mask mask, int ndim) {
  std::vector<std::int64_t> dims;
  for (int d = 0; d < ndim; ++d)
    if ((mask >> d) & 1u) dims.push_back(mask % 3 == 0 ? d - ndim : d);
  return dims;
}

void check_every_subset(const Tensor& x, std::vector<std::int64_t> corrections = {0, 1}) {
  const int nd = x.dim();
  for (Mask mask = 1; mask < (1u << nd); ++mask)
    for (std::int64_t c : corrections)
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(x.shape().str() + " mask " + std::to_string(mask) + " correction " + std::to_string(c));
        const Tensor v = x.var(dims_of(mask, nd), c, keepdim);
        const Tensor s = x.std(dims_of(mask, nd), c, keepdim);
        Shape want_shape = keep_shape(x.shape(), mask);
        if (!keepdim) {
          want_shape = {};
          for (int d = 0; d < nd; ++d)
            if (!((mask >> d) & 1u)) want_shape.push_back(x.size(d));
        }
        ASSERT_EQ(v.shape(), want_shape);
        ASSERT_EQ(s.shape(), want_shape);
        const auto want = ref_var(x, mask, c);
        expect_close(v, want, false, x.dtype());
        expect_close(s, want, true, x.dtype());
      }
}

}  // namespace

TEST(Var, EverySubsetOfDims) {
  dm::manual_seed(31);
  for (DType dt : {DType::f32, DType::f64})
    for (const Shape& s : std::vector<Shape>{{7}, {3, 5}, {4, 2, 6}, {2, 3, 4, 5}})
      check_every_subset(Tensor::randn(s, dt), {0, 1, 2});
}

TEST(Var, AllDimsAndDefaultCorrection) {
  dm::manual_seed(32);
  const Tensor x = Tensor::randn({6, 7}, DType::f64);
  expect_close(x.var(), ref_var(x, 3u, 1), false, DType::f64);
  expect_close(x.std(), ref_var(x, 3u, 1), true, DType::f64);
  expect_close(x.var(0), ref_var(x, 3u, 0), false, DType::f64);
  expect_close(x.var(std::vector<std::int64_t>{}), ref_var(x, 3u, 1), false, DType::f64);
  EXPECT_EQ(x.var().shape(), Shape{});
  // Negative corrections are accepted as in torch: divisor n - correction.
  expect_close(x.var(-1), ref_var(x, 3u, -1), false, DType::f64);
}

TEST(Var, StridedInputsAndBlockedPaths) {
  dm::manual_seed(33);
  const Tensor base = Tensor::randn({4, 6, 10});
  check_every_subset(base.transpose(0, 2));
  check_every_subset(base.slice(1, 0, 6, 4));
  check_every_subset(Tensor::randn({3, 20000}));       // long rows
  check_every_subset(Tensor::randn({700, 530}, DType::f64));  // long, wide columns
}

TEST(Var, LargeMeanDoesNotCancel) {
  // A one-pass E[x^2] - E[x]^2 in f32 would lose every digit here.
  dm::manual_seed(34);
  const Tensor x = Tensor::randn({5000}).mul(0.01).add(1e4);
  expect_close(x.var(), ref_var(x, 1u, 1), false, DType::f32);
  const Tensor rows = Tensor::randn({3, 4000}).add(1e5);
  expect_close(rows.var(std::vector<std::int64_t>{1}), ref_var(rows, 2u, 1), false, DType::f32);
}

TEST(Var, Bf16) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).to(DType::bf16);
  EXPECT_EQ(x.var().dtype(), DType::bf16);
  EXPECT_FLOAT_EQ(x.var().item<float>(), 3.5f);
  EXPECT_EQ(x.std(std::vector<std::int64_t>{1}).to_vector<float>(), (std::vector<float>{1.0f, 1.0f}));
}

TEST(Var, DegenerateDivisors) {
  const Tensor one = Tensor::scalar(3.0);
  EXPECT_TRUE(std::isnan(one.var().item<float>()));  // 0 / 0, as torch
  EXPECT_EQ(one.var(0).item<float>(), 0.0f);
  const Tensor two = Tensor::from_vector(std::vector<float>{1, 3});
  EXPECT_EQ(two.var(2).item<float>(), INFINITY);  // 2 / 0
  EXPECT_EQ(two.var(5).item<float>(), INFINITY);  // divisor clamps at 0
  EXPECT_TRUE(std::isnan(Tensor::zeros({0}).var().item<float>()));
  EXPECT_EQ(Tensor::zeros({3, 0}).std(std::vector<std::int64_t>{0}).shape(), Shape{0});
}

TEST(Var, Errors) {
  EXPECT_THAT(error_of<dm::DTypeError>([] { Tensor::ones({3}, DType::i32).var(); }), AllOf(HasSubstr("[var] needs a floating dtype"), HasSubstr("got i32")));
  EXPECT_THAT(error_of<dm::DTypeError>([] { Tensor::ones({3}, DType::u8).std(std::vector<std::int64_t>{0}); }), HasSubstr("[std]"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::ones({3}).var(std::vector<std::int64_t>{0, 0}); }), HasSubstr("appears more than once"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::ones({3}).std(std::vector<std::int64_t>{1}); }), HasSubstr("[std] dim 1 out of range"));
}
