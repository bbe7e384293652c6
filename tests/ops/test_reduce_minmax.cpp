// max, min, argmax and argmin against a naive scan written here: ties go to the first
// occurrence and NaN wins, as in torch. Strided inputs, every dim, keepdim, the kernel's
// blocked paths, integer and bf16 dtypes, empty inputs and the errors.
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

struct Pick {
  double value;
  std::int64_t index;
};

// Scans values in order; the first NaN, else the first strict extreme.
Pick naive_pick(const std::vector<double>& v, bool want_max) {
  Pick best{v[0], 0};
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) return {v[i], static_cast<std::int64_t>(i)};
    if (want_max ? v[i] > best.value : v[i] < best.value) best = {v[i], static_cast<std::int64_t>(i)};
  }
  return best;
}

// The slices along `dim`, one per output element in row-major order of the other dims.
std::vector<std::vector<double>> slices(const Tensor& x, int dim) {
  Shape out_shape = x.shape();
  out_shape[dim] = 1;
  std::vector<std::vector<double>> s(static_cast<std::size_t>(out_shape.numel()));
  for (const Index& idx : all_indices(x.shape())) {
    std::int64_t o = 0;
    for (int d = 0; d < x.dim(); ++d) o = o * out_shape[d] + (d == dim ? 0 : idx[static_cast<std::size_t>(d)]);
    s[static_cast<std::size_t>(o)].push_back(at(x, idx));  // row-major: in order along dim
  }
  return s;
}

bool same_value(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_dim(const Tensor& x, int dim, bool keepdim) {
  SCOPED_TRACE("shape " + x.shape().str() + " dim " + std::to_string(dim) + " keepdim " + std::to_string(keepdim));
  Shape want_shape = x.shape();
  if (keepdim) {
    want_shape[dim] = 1;
  } else {
    want_shape.erase(dim);
  }
  const auto sl = slices(x, dim);
  const int neg = dim - x.dim();
  const Tensor maxv = x.max(dim, keepdim), minv = x.min(neg, keepdim);
  const Tensor amax = x.argmax(neg, keepdim), amin = x.argmin(dim, keepdim);
  ASSERT_EQ(maxv.shape(), want_shape);
  ASSERT_EQ(amax.shape(), want_shape);
  ASSERT_EQ(minv.shape(), want_shape);
  ASSERT_EQ(amin.shape(), want_shape);
  EXPECT_EQ(maxv.dtype(), x.dtype());
  EXPECT_EQ(amax.dtype(), DType::i64);
  const auto got_max = maxv.to_vector<double>(), got_min = minv.to_vector<double>();
  const auto got_amax = amax.to_vector<std::int64_t>(), got_amin = amin.to_vector<std::int64_t>();
  for (std::size_t o = 0; o < sl.size(); ++o) {
    const Pick hi = naive_pick(sl[o], true), lo = naive_pick(sl[o], false);
    ASSERT_TRUE(same_value(got_max[o], hi.value)) << "slice " << o << ": max " << got_max[o] << " want " << hi.value;
    ASSERT_TRUE(same_value(got_min[o], lo.value)) << "slice " << o << ": min " << got_min[o] << " want " << lo.value;
    ASSERT_EQ(got_amax[o], hi.index) << "slice " << o;
    ASSERT_EQ(got_amin[o], lo.index) << "slice " << o;
  }
}

void check_all(const Tensor& x) {
  SCOPED_TRACE("shape " + x.shape().str());
  std::vector<double> flat;
  for (const Index& idx : all_indices(x.shape())) flat.push_back(at(x, idx));
  const Pick hi = naive_pick(flat, true), lo = naive_pick(flat, false);
  EXPECT_EQ(x.max().shape(), Shape{});
  EXPECT_EQ(x.argmax().dtype(), DType::i64);
  EXPECT_TRUE(same_value(x.max().item<double>(), hi.value));
  EXPECT_TRUE(same_value(x.min().item<double>(), lo.value));
  EXPECT_EQ(x.argmax().item<std::int64_t>(), hi.index);
  EXPECT_EQ(x.argmin().item<std::int64_t>(), lo.index);
}

void check_every_dim(const Tensor& x) {
  check_all(x);
  for (int d = 0; d < x.dim(); ++d)
    for (bool keepdim : {false, true}) check_dim(x, d, keepdim);
}

// Small integers as floats: many ties.
Tensor tied(const Shape& s, DType dt = DType::f32) {
  return Tensor::randint(0, 4, s, DType::i64).to(dt);
}

}  // namespace

TEST(MaxMin, EveryDimOfRandomAndTiedInputs) {
  dm::manual_seed(21);
  for (const Shape& s : std::vector<Shape>{{1}, {9}, {3, 5}, {4, 1, 6}, {2, 3, 4, 5}}) {
    check_every_dim(Tensor::randn(s));
    check_every_dim(Tensor::randn(s, DType::f64));
    check_every_dim(tied(s));
  }
}

TEST(MaxMin, ZeroDimTensor) {
  const Tensor s = Tensor::scalar(-3.0);
  EXPECT_EQ(s.max().item<float>(), -3.0f);
  EXPECT_EQ(s.argmin().item<std::int64_t>(), 0);
  EXPECT_EQ(s.max(0).shape(), Shape{});
  EXPECT_EQ(s.argmax(-1, true).item<std::int64_t>(), 0);
}

TEST(MaxMin, StridedInputs) {
  dm::manual_seed(22);
  const Tensor base = tied({4, 6, 10});
  check_every_dim(base.transpose(0, 2));  // argmax over all must count in row-major order
  check_every_dim(base.permute({2, 0, 1}));
  check_every_dim(base.slice(2, 1, 10, 3));
  check_every_dim(base.select(1, 0).unsqueeze(1).expand({4, 3, 10}));
  check_every_dim(Tensor::randn({40, 30}).t());
}

TEST(MaxMin, BlockedKernelPaths) {
  dm::manual_seed(23);
  // Rows longer than one 8192-element block, columns longer than one 256-row block, columns
  // wider than one 512-column chunk; tied values make the first-occurrence rule matter.
  check_dim(tied({3, 20000}), 1, false);
  check_dim(tied({20000, 3}), 0, true);
  check_dim(tied({2, 600, 530}), 1, false);
  check_all(tied({50000}));
  check_all(tied({300, 200}).t());
  // The single maximum late in a long row.
  Tensor x = Tensor::zeros({40000});
  x.narrow(0, 33333, 1).fill_(5.0);
  x.narrow(0, 39999, 1).fill_(5.0);
  EXPECT_EQ(x.argmax().item<std::int64_t>(), 33333);
  EXPECT_EQ(x.argmin().item<std::int64_t>(), 0);
}

TEST(MaxMin, NaNPropagatesAndArgPointsAtFirstNaN) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, nan, 7, nan, 2, 3, -1, 9, 4, 5, 6, 0}, {3, 4});
  EXPECT_TRUE(std::isnan(x.max().item<float>()));
  EXPECT_TRUE(std::isnan(x.min().item<float>()));
  EXPECT_EQ(x.argmax().item<std::int64_t>(), 1);
  EXPECT_EQ(x.argmin().item<std::int64_t>(), 1);
  EXPECT_EQ(x.argmax(1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 3, 2}));
  EXPECT_EQ(x.argmin(1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(x.argmax(0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 0, 0, 0}));
  const auto col_max = x.max(0).to_vector<float>();
  EXPECT_EQ(col_max[0], 4.0f);
  EXPECT_TRUE(std::isnan(col_max[1]));
  check_every_dim(x);
  check_every_dim(x.t());
  // NaN past the first block of a long row and in a long column.
  Tensor row = Tensor::randn({30000});
  row.narrow(0, 20001, 1).fill_(NAN);
  row.narrow(0, 25000, 1).fill_(NAN);
  EXPECT_EQ(row.argmax().item<std::int64_t>(), 20001);
  EXPECT_EQ(row.argmin().item<std::int64_t>(), 20001);
  Tensor col = Tensor::randn({900, 2});
  col.narrow(0, 700, 1).fill_(NAN);
  EXPECT_EQ(col.argmax(0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{700, 700}));
  const Tensor infs = Tensor::full({5}, -INFINITY);
  EXPECT_EQ(infs.argmax().item<std::int64_t>(), 0);
  EXPECT_EQ(infs.max().item<float>(), -INFINITY);
}

TEST(MaxMin, IntegerBoolAndBf16KeepTheirDtype) {
  dm::manual_seed(24);
  for (DType dt : {DType::i32, DType::i64, DType::u8, DType::bf16}) {
    const Tensor x = Tensor::randint(0, 50, {5, 7}, DType::i64).to(dt);
    EXPECT_EQ(x.max().dtype(), dt);
    EXPECT_EQ(x.min(1).dtype(), dt);
    check_every_dim(x);
  }
  const Tensor neg = Tensor::from_vector(std::vector<std::int32_t>{-5, 3, -7, 3}, {2, 2});
  EXPECT_EQ(neg.min().item<std::int32_t>(), -7);
  EXPECT_EQ(neg.argmax().item<std::int64_t>(), 1);
  const Tensor flags = Tensor::from_vector(std::vector<double>{0, 0, 1, 1, 0, 1}, {2, 3}).to(DType::boolean);
  EXPECT_EQ(flags.max().dtype(), DType::boolean);
  EXPECT_EQ(flags.argmax().item<std::int64_t>(), 2);
  EXPECT_EQ(flags.argmin(1).to_vector<std::int64_t>(), (std::vector<std::int64_t>{0, 1}));
}

TEST(MaxMin, EmptyInputs) {
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::zeros({0, 3}).max(); }), HasSubstr("[max] empty tensor"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::zeros({0}).argmin(); }), HasSubstr("[argmin] empty tensor"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::zeros({0, 3}).max(0); }), HasSubstr("[max] cannot reduce dim 0"));
  EXPECT_THAT(error_of<dm::ShapeError>([] { Tensor::zeros({2, 0}).argmax(-1); }), HasSubstr("size 0"));
  // Reducing a non-empty dim of an empty tensor gives an empty result.
  EXPECT_EQ(Tensor::zeros({0, 3}).max(1).shape(), Shape{0});
  EXPECT_EQ(Tensor::zeros({3, 0}).argmax(0, true).shape(), (Shape{1, 0}));
  EXPECT_EQ(Tensor::zeros({3, 0}).argmax(0).dtype(), DType::i64);
}

TEST(MaxMin, Errors) {
  const Tensor x = Tensor::randn({2, 3});
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.max(2); }), HasSubstr("[max] dim 2 out of range"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { x.argmin(-3); }), HasSubstr("[argmin]"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { Tensor().argmax(); }), HasSubstr("[argmax]"));
}
