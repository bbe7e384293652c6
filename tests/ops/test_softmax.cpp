// softmax, log_softmax and logsumexp against naive exp/sum loops in long double, over every
// dim of 1-4 dim tensors, strided inputs, the row and column kernel paths, bf16, extreme
// inputs (1000.0, infinities, NaN), empty tensors and the errors.
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
using testing::HasSubstr;

namespace {

struct Tolerance {
  double rtol, atol;
};
Tolerance tolerance_for(DType t) {
  if (t == DType::f64) return {1e-12, 1e-12};
  if (t == DType::bf16) return {1.0 / 128, 1e-3};  // 8-bit mantissa on input and output
  return {1.3e-6, 1e-5};
}

// For each element of x: its position along `dim` and the index of its slice.
struct SliceMap {
  std::vector<std::vector<long double>> slices;  // one per slice, in order along dim
  std::vector<std::size_t> slice_of, pos_of;     // per row-major element
};

SliceMap slice_map(const Tensor& x, int dim) {
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape[dim] = 1;
  SliceMap m;
  m.slices.resize(static_cast<std::size_t>(out_shape.numel()));
  for (const Index& idx : all_indices(x.shape())) {
    std::int64_t o = 0;
    for (int d = 0; d < x.dim(); ++d) o = o * out_shape[d] + (d == dim ? 0 : idx[static_cast<std::size_t>(d)]);
    auto& s = m.slices[static_cast<std::size_t>(o)];
    m.slice_of.push_back(static_cast<std::size_t>(o));
    m.pos_of.push_back(s.size());
    s.push_back(static_cast<long double>(at(x, idx)));
  }
  return m;
}

long double naive_logsumexp(const std::vector<long double>& s) {
  long double m = -INFINITY;
  for (long double v : s) m = std::max(m, v);
  if (std::isinf(m)) m = 0;
  long double sum = 0;
  for (long double v : s) sum += std::exp(v - m);
  return m + std::log(sum);
}

void expect_near_all(const std::vector<double>& got, const std::vector<long double>& want, Tolerance tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    const double w = static_cast<double>(want[k]);
    if (std::isnan(w) || std::isinf(w)) {
      ASSERT_TRUE(std::isnan(w) ? std::isnan(got[k]) : got[k] == w) << "at " << k << ": got " << got[k] << ", want " << w;
    } else {
      ASSERT_LE(std::abs(got[k] - w), tol.atol + tol.rtol * std::abs(w)) << "at " << k << ": got " << got[k]
                                                                          << ", want " << w;
    }
  }
}

void check_dim(const Tensor& x, int dim) {
  SCOPED_TRACE("shape " + x.shape().str() + " dim " + std::to_string(dim));
  const Tolerance tol = tolerance_for(x.dtype());
  const SliceMap m = slice_map(x, dim);
  std::vector<long double> lse;
  for (const auto& s : m.slices) lse.push_back(naive_logsumexp(s));
  std::vector<long double> soft, log_soft;
  for (std::size_t k = 0; k < m.slice_of.size(); ++k) {
    const long double v = m.slices[m.slice_of[k]][m.pos_of[k]];
    soft.push_back(std::exp(v - lse[m.slice_of[k]]));
    log_soft.push_back(v - lse[m.slice_of[k]]);
  }
  const int neg = x.dim() == 0 ? -1 : dim - x.dim();
  const Tensor s = x.softmax(dim), ls = x.log_softmax(neg);
  ASSERT_EQ(s.shape(), x.shape());
  ASSERT_EQ(ls.shape(), x.shape());
  EXPECT_EQ(s.dtype(), x.dtype());
  expect_near_all(s.to_vector<double>(), soft, tol);
  expect_near_all(ls.to_vector<double>(), log_soft, tol);

  // Every slice of the softmax sums to 1.
  if (x.dim() > 0) {
    const auto sums = s.to(DType::f64).sum({dim}).to_vector<double>();
    for (double v : sums) ASSERT_NEAR(v, 1.0, x.dtype() == DType::bf16 ? 2e-2 : 1e-5);
  }
  // log_softmax == log(softmax) where the softmax is not tiny.
  const auto sv = s.to_vector<double>(), lv = ls.to_vector<double>();
  for (std::size_t k = 0; k < sv.size(); ++k)
    if (sv[k] > 1e-30) {
      ASSERT_NEAR(lv[k], std::log(sv[k]), tol.atol + 4 * tol.rtol * std::abs(lv[k]));
    }

  for (bool keepdim : {false, true}) {
    const Tensor l = x.logsumexp(neg, keepdim);
    Shape want_shape = x.shape();
    if (x.dim() > 0) {
      if (keepdim) {
        want_shape[dim] = 1;
      } else {
        want_shape.erase(dim);
      }
    }
    ASSERT_EQ(l.shape(), want_shape);
    expect_near_all(l.to_vector<double>(), lse, tol);
  }
}

void check_every_dim(const Tensor& x) {
  if (x.dim() == 0) check_dim(x, 0);
  for (int d = 0; d < x.dim(); ++d) check_dim(x, d);
}

}  // namespace

TEST(Softmax, EveryDimAgainstNaiveExpSum) {
  dm::manual_seed(41);
  for (DType dt : {DType::f32, DType::f64})
    for (const Shape& s : std::vector<Shape>{{}, {1}, {9}, {3, 5}, {4, 1, 6}, {2, 3, 4, 5}})
      check_every_dim(Tensor::randn(s, dt).mul(3.0));
}

TEST(Softmax, StridedInputs) {
  dm::manual_seed(42);
  const Tensor base = Tensor::randn({4, 6, 10});
  check_every_dim(base.transpose(0, 2));
  check_every_dim(base.slice(2, 1, 10, 3));
  check_every_dim(base.select(1, 1).unsqueeze(1).expand({4, 3, 10}));
}

TEST(Softmax, RowAndColumnPaths) {
  dm::manual_seed(43);
  check_dim(Tensor::randn({3, 2500}), 1);    // rows longer than one 1024-exp chunk
  check_dim(Tensor::randn({40, 600}), 0);    // columns, three 256-column groups
  check_dim(Tensor::randn({2, 30, 300}, DType::f64), 1);
  check_dim(Tensor::randn({256, 1000}), 1);
}

TEST(Softmax, Bf16ComputesInF32) {
  dm::manual_seed(44);
  const Tensor x = Tensor::randn({5, 12}).to(DType::bf16);
  EXPECT_EQ(x.softmax(1).dtype(), DType::bf16);
  check_every_dim(x);
}

TEST(Softmax, LargeInputsDoNotOverflow) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1000.0f, 1000.0f, 999.0f, -1000.0f}, {4});
  const auto s = x.softmax(0).to_vector<double>();
  const double e = std::exp(-1.0), z = 2 + e;
  EXPECT_NEAR(s[0], 1 / z, 1e-6);
  EXPECT_NEAR(s[1], 1 / z, 1e-6);
  EXPECT_NEAR(s[2], e / z, 1e-6);
  EXPECT_EQ(s[3], 0.0);
  const auto ls = x.log_softmax(0).to_vector<double>();
  EXPECT_NEAR(ls[0], -std::log(z), 1e-5);
  EXPECT_NEAR(ls[3], -2000.0 - std::log(z), 1e-3);
  EXPECT_NEAR(x.logsumexp(0).item<double>(), 1000.0 + std::log(z), 1e-4);
  check_every_dim(Tensor::randn({3, 7}).mul(400.0));
}

TEST(Softmax, InfinitiesAndNaN) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor all_neg_inf = Tensor::full({2, 3}, -inf);
  for (float v : all_neg_inf.logsumexp(1).to_vector<float>()) EXPECT_EQ(v, -inf);  // not NaN
  for (float v : all_neg_inf.logsumexp(0).to_vector<float>()) EXPECT_EQ(v, -inf);  // column path too
  const Tensor with_inf = Tensor::from_vector(std::vector<float>{inf, 1.0f, 2.0f, 3.0f}, {2, 2});
  EXPECT_EQ(with_inf.logsumexp(1).to_vector<float>()[0], inf);
  EXPECT_EQ(with_inf.logsumexp(0).to_vector<float>()[0], inf);
  const Tensor some_neg_inf = Tensor::from_vector(std::vector<float>{-inf, 0.0f}, {2});
  EXPECT_EQ(some_neg_inf.softmax(0).to_vector<float>(), (std::vector<float>{0.0f, 1.0f}));
  EXPECT_EQ(some_neg_inf.log_softmax(0).to_vector<float>()[0], -inf);
  const Tensor with_nan = Tensor::from_vector(std::vector<float>{1.0f, nan, 2.0f}, {3});
  for (float v : with_nan.softmax(0).to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  EXPECT_TRUE(std::isnan(with_nan.logsumexp(0).item<float>()));
}

TEST(Softmax, EmptyTensors) {
  EXPECT_EQ(Tensor::zeros({0, 3}).softmax(1).shape(), (Shape{0, 3}));
  EXPECT_EQ(Tensor::zeros({2, 0}).log_softmax(1).shape(), (Shape{2, 0}));
  EXPECT_EQ(Tensor::zeros({2, 0}).logsumexp(1).to_vector<float>(),
            (std::vector<float>{-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}));
  EXPECT_EQ(Tensor::zeros({0, 3}).logsumexp(1, true).shape(), (Shape{0, 1}));
}

TEST(Softmax, Errors) {
  EXPECT_THAT(error_of<dm::DTypeError>([] { Tensor::ones({3}, DType::i64).softmax(0); }),
              HasSubstr("[softmax] needs a floating dtype"));
  EXPECT_THAT(error_of<dm::DTypeError>([] { Tensor::ones({3}, DType::i32).logsumexp(0); }), HasSubstr("[logsumexp]"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::ones({3}).log_softmax(1); }),
              HasSubstr("[log_softmax] dim 1 out of range"));
  EXPECT_THAT(error_of<dm::ValueError>([] { Tensor().softmax(0); }), HasSubstr("[softmax]"));
}
