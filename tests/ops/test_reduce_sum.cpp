// sum and mean against a naive reference: every element is visited in row-major order and
// added, in long double, to the output it belongs to. Covers 0-4 dims, every subset of dims,
// keepdim both ways, strided and broadcast inputs, the blocked kernel paths (long rows, long
// columns, wide columns), integer/bool/bf16 dtypes, empty tensors and the errors.
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

using Mask = std::uint32_t;

struct Tolerance {
  double rtol, atol;
};
// PyTorch's defaults for assert_close.
constexpr Tolerance kF32{1.3e-6, 1e-5};
constexpr Tolerance kF64{1e-12, 1e-12};
// bf16 keeps 8 significant bits: the result is rounded once to that.
constexpr Tolerance kBF16{1.0 / 256, 1e-5};

Tolerance tolerance_for(DType t) { return t == DType::f64 ? kF64 : t == DType::bf16 ? kBF16 : kF32; }

Shape keep_shape(const Shape& s, Mask mask) {
  Shape out;
  for (int d = 0; d < s.size(); ++d) out.push_back((mask >> d) & 1u ? 1 : s[d]);
  return out;
}

Shape drop_shape(const Shape& s, Mask mask) {
  Shape out;
  for (int d = 0; d < s.size(); ++d)
    if (!((mask >> d) & 1u)) out.push_back(s[d]);
  return out;
}

// The values reduced into each output (keepdim layout, row-major), in row-major input order.
std::vector<std::vector<long double>> groups(const Tensor& x, Mask mask) {
  const Shape ks = keep_shape(x.shape(), mask);
  std::vector<std::vector<long double>> g(static_cast<std::size_t>(ks.numel()));
  for (const Index& idx : all_indices(x.shape())) {
    std::int64_t out = 0;
    for (int d = 0; d < ks.size(); ++d) out = out * ks[d] + ((mask >> d) & 1u ? 0 : idx[static_cast<std::size_t>(d)]);
    g[static_cast<std::size_t>(out)].push_back(static_cast<long double>(at(x, idx)));
  }
  return g;
}

std::vector<long double> ref_sum(const Tensor& x, Mask mask, bool mean) {
  std::vector<long double> out;
  for (const auto& values : groups(x, mask)) {
    long double s = 0;
    for (long double v : values) s += v;
    out.push_back(mean ? (values.empty() ? NAN : s / static_cast<long double>(values.size())) : s);
  }
  return out;
}

void expect_close(const Tensor& got, const Shape& shape, const std::vector<long double>& want, Tolerance tol) {
  ASSERT_EQ(got.shape(), shape) << "got " << got.shape().str() << ", want " << shape.str();
  std::size_t k = 0;
  for (const Index& idx : all_indices(shape)) {
    const double g = at(got, idx);
    const double w = static_cast<double>(want[k++]);
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << "at " << Shape(idx).str() << ": got " << g << ", want NaN";
    } else {
      ASSERT_LE(std::abs(g - w), tol.atol + tol.rtol * std::abs(w)) << "at " << Shape(idx).str() << ": got " << g
                                                                    << ", want " << w;
    }
  }
}

std::vector<std::int64_t> dims_of(Mask mask, int ndim, bool negative) {
  std::vector<std::int64_t> dims;
  for (int d = 0; d < ndim; ++d)
    if ((mask >> d) & 1u) dims.push_back(negative ? d - ndim : d);
  return dims;
}

// Checks sum and mean of x over every non-empty subset of its dims, keepdim both ways.
void check_every_subset(const Tensor& x) {
  const int nd = x.dim();
  const Tolerance tol = tolerance_for(x.dtype());
  for (Mask mask = 1; mask < (1u << nd); ++mask) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE("shape " + x.shape().str() + " mask " + std::to_string(mask) + " keepdim " + std::to_string(keepdim));
      const auto dims = dims_of(mask, nd, /*negative=*/mask % 2 == 0);
      const Shape shape = keepdim ? keep_shape(x.shape(), mask) : drop_shape(x.shape(), mask);
      expect_close(x.sum(dims, keepdim), shape, ref_sum(x, mask, false), tol);
      expect_close(x.mean(dims, keepdim), shape, ref_sum(x, mask, true), tol);
    }
  }
}

}  // namespace

TEST(Sum, AllOfEveryShapeAndDtype) {
  dm::manual_seed(11);
  for (DType dt : {DType::f32, DType::f64}) {
    for (const Shape& s : std::vector<Shape>{{}, {1}, {7}, {3, 5}, {4, 1, 6}, {2, 3, 4, 5}, {100003}}) {
      SCOPED_TRACE(s.str());
      const Tensor x = Tensor::randn(s, dt);
      const Mask all = (1u << s.size()) - 1u;
      expect_close(x.sum(), Shape{}, ref_sum(x, all, false), tolerance_for(dt));
      expect_close(x.mean(), Shape{}, ref_sum(x, all, true), tolerance_for(dt));
      EXPECT_EQ(x.sum().dtype(), dt);
    }
  }
}

TEST(Sum, EverySubsetOfDimsWithKeepdim) {
  dm::manual_seed(12);
  for (DType dt : {DType::f32, DType::f64})
    for (const Shape& s : std::vector<Shape>{{7}, {3, 5}, {4, 1, 6}, {2, 3, 4, 5}}) check_every_subset(Tensor::randn(s, dt));
}

TEST(Sum, EmptyDimListMeansEveryDim) {
  const Tensor x = Tensor::randn({3, 4});
  EXPECT_EQ(x.sum(std::vector<std::int64_t>{}).shape(), Shape{});
  EXPECT_FLOAT_EQ(x.sum(std::vector<std::int64_t>{}).item<float>(), x.sum().item<float>());
  EXPECT_EQ(x.sum(std::vector<std::int64_t>{}, true).shape(), (Shape{1, 1}));
  EXPECT_FLOAT_EQ(x.mean(std::vector<std::int64_t>{}).item<float>(), x.mean().item<float>());
}

TEST(Sum, StridedAndBroadcastInputs) {
  dm::manual_seed(13);
  const Tensor base = Tensor::randn({4, 6, 10});
  check_every_subset(base.transpose(0, 2));          // dense, reduced dims read in place
  check_every_subset(base.permute({1, 2, 0}));       // dense, other memory order
  check_every_subset(base.slice(2, 1, 10, 3));       // gaps: copied first
  check_every_subset(base.select(1, 2).unsqueeze(1).expand({4, 5, 10}));  // stride 0
  const Tensor m = Tensor::randn({37, 53}, DType::f64);
  check_every_subset(m.t());
}

TEST(Sum, BlockedKernelPaths) {
  dm::manual_seed(14);
  // Long rows (several 8192-element blocks), long columns (several 256-row blocks) with a
  // narrow and a wide (several 512-column chunks) inner extent.
  struct Case {
    Shape shape;
    std::vector<std::int64_t> dims;
  };
  for (const Case& c : std::vector<Case>{{{3, 20000}, {1}},
                                         {{1000, 3}, {0}},
                                         {{2, 700, 530}, {1}},
                                         {{2, 700, 530}, {0, 1}},
                                         {{530, 700}, {0}}}) {
    for (DType dt : {DType::f32, DType::f64}) {
      SCOPED_TRACE(c.shape.str());
      const Tensor x = Tensor::randn(c.shape, dt);
      Mask mask = 0;
      for (auto d : c.dims) mask |= 1u << d;
      expect_close(x.sum(c.dims), drop_shape(c.shape, mask), ref_sum(x, mask, false), tolerance_for(dt));
      expect_close(x.mean(c.dims, true), keep_shape(c.shape, mask), ref_sum(x, mask, true), tolerance_for(dt));
    }
  }
}

TEST(Sum, IntegersAndBoolGiveExactI64) {
  const Tensor ints = Tensor::randint(-1000, 1000, {5, 7, 3}, DType::i32);
  for (Mask mask = 1; mask < 8; ++mask) {
    const Tensor s = ints.sum(dims_of(mask, 3, false));
    EXPECT_EQ(s.dtype(), DType::i64);
    const auto want = ref_sum(ints, mask, false);
    const auto got = s.to_vector<std::int64_t>();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], static_cast<std::int64_t>(want[k]));
  }
  const Tensor big = Tensor::full({3}, 4e18, DType::i64);  // wraps like torch, no UB
  EXPECT_EQ(big.sum().item<std::int64_t>(), static_cast<std::int64_t>(static_cast<std::uint64_t>(12e18)));

  const Tensor bytes = Tensor::full({300}, 200, DType::u8);
  EXPECT_EQ(bytes.sum().dtype(), DType::i64);
  EXPECT_EQ(bytes.sum().item<std::int64_t>(), 60000);  // no u8 overflow

  const Tensor flags = Tensor::from_vector(std::vector<double>{1, 0, 1, 1, 0, 1}, {2, 3}).to(DType::boolean);
  EXPECT_EQ(flags.sum().item<std::int64_t>(), 4);
  EXPECT_EQ(flags.sum({1}).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(flags.sum({0}).dtype(), DType::i64);
}

TEST(Sum, Bf16ComputesInF32AndStoresBf16) {
  dm::manual_seed(15);
  const Tensor x = Tensor::randn({6, 40}).to(DType::bf16);
  EXPECT_EQ(x.sum().dtype(), DType::bf16);
  EXPECT_EQ(x.mean({1}).dtype(), DType::bf16);
  check_every_subset(x);
}

TEST(Sum, EmptyTensors) {
  EXPECT_EQ(Tensor::zeros({0}).sum().item<float>(), 0.0f);
  EXPECT_TRUE(std::isnan(Tensor::zeros({0}).mean().item<float>()));
  const Tensor e = Tensor::zeros({2, 0, 3});
  EXPECT_EQ(e.sum({1}).shape(), (Shape{2, 3}));
  EXPECT_EQ(e.sum({1}).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(e.sum({0}, true).shape(), (Shape{1, 0, 3}));
  const auto means = e.mean({1}).to_vector<double>();
  ASSERT_EQ(means.size(), 6u);
  for (double m : means) EXPECT_TRUE(std::isnan(m));
  EXPECT_EQ(Tensor::zeros({0}, DType::i32).sum().item<std::int64_t>(), 0);
}

TEST(Sum, SpecialValues) {
  const Tensor x = Tensor::from_vector(std::vector<float>{1.0f, INFINITY, 2.0f, NAN, -INFINITY, INFINITY}, {3, 2});
  const auto rows = x.sum({1}).to_vector<float>();
  EXPECT_EQ(rows[0], INFINITY);
  EXPECT_TRUE(std::isnan(rows[1]));
  EXPECT_TRUE(std::isnan(rows[2]));  // -inf + inf
}

TEST(Sum, Errors) {
  const Tensor x = Tensor::randn({2, 3});
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.sum({2}); }), HasSubstr("[sum] dim 2 out of range"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.mean({-3}); }), HasSubstr("[mean]"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.sum({1, -1}); }), HasSubstr("[sum] dim 1 appears more than once"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.sum({1, -1}); }), HasSubstr("(2, 3)"));
  EXPECT_THAT(error_of<dm::DTypeError>([&] { Tensor::ones({3}, DType::i64).mean(); }),
              HasSubstr("[mean] needs a floating dtype"));
  EXPECT_THAT(error_of<dm::DTypeError>([&] { Tensor::ones({3}, DType::boolean).mean({0}); }), HasSubstr("bool"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { Tensor().sum(); }), HasSubstr("[sum]"));
}

TEST(Sum, ZeroDimTensors) {
  const Tensor s = Tensor::scalar(2.5);
  EXPECT_EQ(s.sum().item<float>(), 2.5f);
  EXPECT_EQ(s.sum({0}).shape(), Shape{});
  EXPECT_EQ(s.sum({-1}, true).shape(), Shape{});
  EXPECT_EQ(s.mean({0}).item<float>(), 2.5f);
  EXPECT_THROW(s.sum({0, -1}), dm::ShapeError);
  EXPECT_THROW(s.sum({1}), dm::ShapeError);
}
