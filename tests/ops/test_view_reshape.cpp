// reshape, view and flatten against row-major index arithmetic, on contiguous and strided
// inputs, with checks of when storage is shared.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::Shape;
using dm::Tensor;
using dm_test::at;
using dm_test::error_of;
using dm_test::expect_elements;
using dm_test::Index;
using dm_test::numbered;
using testing::HasSubstr;

namespace {

// A reshape keeps the row-major sequence: out element at row-major k is input element at k.
void expect_same_sequence(const Tensor& out, const Shape& shape, const Tensor& in) {
  expect_elements(out, shape, [&](const Index& i) {
    return at(in, dm_test::unflatten(dm_test::flat_index(i, shape), in.shape()));
  });
}

}  // namespace

TEST(Reshape, ContiguousInputGivesViewsWithRowMajorOrder) {
  const Tensor base = numbered({2, 3, 4});
  const std::vector<Shape> targets = {{6, 4}, {24}, {2, 12}, {1, 24, 1}, {3, 2, 2, 2}, {4, 3, 2}, {2, 1, 3, 1, 4}};
  for (const Shape& s : targets) {
    SCOPED_TRACE(s.str());
    const Tensor r = base.reshape(s);
    expect_same_sequence(r, s, base);
    EXPECT_TRUE(r.shares_storage_with(base));
    EXPECT_TRUE(r.is_contiguous());
    const Tensor v = base.view(s);
    expect_same_sequence(v, s, base);
    EXPECT_TRUE(v.shares_storage_with(base));
  }
}

TEST(Reshape, InfersOneMinusOne) {
  const Tensor base = numbered({2, 3, 4});
  EXPECT_EQ(base.reshape({4, -1}).shape(), Shape({4, 6}));
  EXPECT_EQ(base.reshape({-1}).shape(), Shape({24}));
  EXPECT_EQ(base.reshape({2, -1, 3}).shape(), Shape({2, 4, 3}));
  EXPECT_EQ(base.view({-1, 12}).shape(), Shape({2, 12}));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.reshape({-1, -1}); }), HasSubstr("only one dim may be -1"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.reshape({5, -1}); }), HasSubstr("(2, 3, 4)"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.reshape({-2, 12}); }), HasSubstr("invalid extent -2"));
}

TEST(Reshape, ElementCountMismatchNamesBothShapes) {
  const Tensor base = numbered({2, 3});
  const std::string msg = error_of<dm::ShapeError>([&] { base.reshape({4}); });
  EXPECT_THAT(msg, HasSubstr("[reshape]"));
  EXPECT_THAT(msg, HasSubstr("(2, 3)"));
  EXPECT_THAT(msg, HasSubstr("(4,)"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.view({7}); }), HasSubstr("[view]"));
}

TEST(Reshape, TransposedInputSplitsAsViewButFlattensAsCopy) {
  const Tensor base = numbered({3, 4});
  const Tensor tr = base.t();  // (4, 3), strides (1, 4)
  // Splitting dim 0 of the transpose keeps every new dim inside one contiguous run: a view.
  const Tensor split = tr.reshape({2, 2, 3});
  expect_same_sequence(split, {2, 2, 3}, tr);
  EXPECT_TRUE(split.shares_storage_with(base));
  // Merging both dims would need one stride for a non-uniform step: a copy.
  const Tensor flat = tr.reshape({12});
  expect_same_sequence(flat, {12}, tr);
  EXPECT_FALSE(flat.shares_storage_with(base));
  EXPECT_TRUE(flat.is_contiguous());
  const std::string msg = error_of<dm::ShapeError>([&] { tr.view({12}); });
  EXPECT_THAT(msg, HasSubstr("[view]"));
  EXPECT_THAT(msg, HasSubstr("(4, 3)"));
  EXPECT_THAT(msg, HasSubstr("(12,)"));
  EXPECT_THAT(msg, HasSubstr("reshape()"));
}

TEST(Reshape, SlicedAndExpandedInputs) {
  const Tensor base = numbered({4, 6});
  const Tensor every_other = base.slice(1, 0, 6, 2);  // (4, 3), strides (6, 2)
  for (const Shape& s : std::vector<Shape>{{2, 2, 3}, {4, 3, 1}, {1, 4, 3}}) {
    const Tensor v = every_other.view(s);
    expect_same_sequence(v, s, every_other);
    EXPECT_TRUE(v.shares_storage_with(base));
  }
  // Rows 6 apart holding 3 elements 2 apart step uniformly by 2: still one run.
  const Tensor uniform = every_other.view({12});
  expect_same_sequence(uniform, {12}, every_other);
  EXPECT_EQ(uniform.stride(0), 2);
  const Tensor narrow = base.slice(1, 1, 5);  // (4, 4), strides (6, 1): a gap after each row
  EXPECT_TRUE(narrow.view({4, 2, 2}).shares_storage_with(base));
  const Tensor copied = narrow.reshape({16});
  expect_same_sequence(copied, {16}, narrow);
  EXPECT_FALSE(copied.shares_storage_with(base));
  EXPECT_THROW(narrow.view({8, 2}), dm::ShapeError);

  const Tensor column = numbered({3, 1});
  const Tensor wide = column.expand({3, 4});  // strides (1, 0)
  const Tensor split = wide.view({3, 2, 2});
  expect_same_sequence(split, {3, 2, 2}, wide);
  EXPECT_EQ(split.stride(2), 0);
  EXPECT_THROW(wide.view({12}), dm::ShapeError);
  const Tensor flat = wide.reshape({12});
  expect_same_sequence(flat, {12}, wide);
  EXPECT_FALSE(flat.shares_storage_with(column));
}

TEST(Reshape, WritesThroughAViewReachTheBase) {
  Tensor base = numbered({2, 6});
  Tensor v = base.view({3, 4});
  Tensor row = v.select(0, 1);  // base elements 4..7
  row.fill_(-1.0);
  const std::vector<double> got = base.to_vector<double>();
  for (std::size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], k >= 4 && k < 8 ? -1.0 : k + 0.5) << k;
}

TEST(Reshape, ZeroDimAndEmptyTensors) {
  const Tensor s = Tensor::scalar(3.5, dm::DType::f64);
  EXPECT_EQ(s.reshape({1}).shape(), Shape({1}));
  EXPECT_EQ(s.reshape({-1}).shape(), Shape({1}));
  EXPECT_EQ(s.reshape({1, 1, 1}).item<double>(), 3.5);
  EXPECT_EQ(s.reshape({1, 1}).reshape(Shape{}).dim(), 0);
  EXPECT_EQ(s.view(Shape{}).item<double>(), 3.5);
  EXPECT_TRUE(s.reshape({1, 1}).shares_storage_with(s));
  EXPECT_THROW(s.reshape({2}), dm::ShapeError);

  const Tensor e = Tensor::zeros({2, 0, 3});
  EXPECT_EQ(e.reshape({0, 6}).shape(), Shape({0, 6}));
  EXPECT_EQ(e.reshape({-1}).shape(), Shape({0}));
  EXPECT_EQ(e.reshape({3, -1, 5}).shape(), Shape({3, 0, 5}));
  EXPECT_EQ(e.permute({2, 0, 1}).view({0}).shape(), Shape({0}));  // nothing to misplace: always a view
  EXPECT_THAT(error_of<dm::ShapeError>([&] { e.reshape({-1, 0}); }), HasSubstr("cannot infer"));
}

TEST(Reshape, EightDimsAtMost) {
  const Tensor t = numbered({2, 2, 2});
  const Shape eight = {1, 2, 1, 2, 1, 2, 1, 1};
  expect_same_sequence(t.reshape(eight), eight, t);
  EXPECT_THROW(t.reshape({1, 1, 1, 1, 1, 1, 2, 2, 2}), dm::ShapeError);
}

TEST(Reshape, RandomStridedInputsAndFactorisations) {
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 200; ++trial) {
    SCOPED_TRACE(trial);
    // A random base, then a random permutation and a random step slice: arbitrary strides.
    Shape shape;
    const int ndim = pick(1, 4);
    for (int d = 0; d < ndim; ++d) shape.push_back(pick(1, 4));
    Tensor in = numbered(shape);
    std::vector<std::int64_t> perm(static_cast<std::size_t>(ndim));
    for (int d = 0; d < ndim; ++d) perm[static_cast<std::size_t>(d)] = d;
    std::shuffle(perm.begin(), perm.end(), rng);
    in = in.permute(perm);
    const int sd = pick(0, ndim - 1);
    in = in.slice(sd, pick(0, in.size(sd) > 1 ? 1 : 0), in.size(sd), pick(1, 2));
    // A random factorisation of numel into 1..4 dims.
    std::int64_t left = in.numel();
    Shape target;
    const int out_dims = pick(1, 4);
    for (int d = 0; d + 1 < out_dims; ++d) {
      std::vector<std::int64_t> divisors;
      for (std::int64_t k = 1; k <= left; ++k)
        if (left % k == 0) divisors.push_back(k);
      const std::int64_t f = divisors[static_cast<std::size_t>(pick(0, static_cast<int>(divisors.size()) - 1))];
      target.push_back(f);
      left /= f;
    }
    target.push_back(left);
    const Tensor r = in.reshape(target);
    expect_same_sequence(r, target, in);
    if (in.is_contiguous()) {
      EXPECT_TRUE(r.shares_storage_with(in));
    }
    try {
      const Tensor v = in.view(target);
      expect_same_sequence(v, target, in);
      EXPECT_TRUE(v.shares_storage_with(in));
    } catch (const dm::ShapeError&) {
      EXPECT_FALSE(in.is_contiguous()) << "a contiguous tensor can always be viewed";
      EXPECT_FALSE(r.shares_storage_with(in)) << "reshape viewed what view refused";
    }
  }
}

TEST(Flatten, RangesOfDims) {
  const Tensor base = numbered({2, 3, 4});
  expect_same_sequence(base.flatten(), {24}, base);
  expect_same_sequence(base.flatten(1), {2, 12}, base);
  expect_same_sequence(base.flatten(0, 1), {6, 4}, base);
  expect_same_sequence(base.flatten(-2, -1), {2, 12}, base);
  expect_same_sequence(base.flatten(1, 1), {2, 3, 4}, base);
  EXPECT_TRUE(base.flatten().shares_storage_with(base));
  const Tensor tr = base.transpose(0, 2);  // (4, 3, 2)
  const Tensor flat = tr.flatten();
  expect_same_sequence(flat, {24}, tr);
  EXPECT_FALSE(flat.shares_storage_with(base));
  EXPECT_EQ(Tensor::scalar(2.0).flatten().shape(), Shape({1}));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.flatten(2, 1); }), HasSubstr("[flatten]"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.flatten(0, 3); }), HasSubstr("dim 3"));
}

TEST(Reshape, UndefinedTensorThrowsValueError) {
  const Tensor u;
  EXPECT_THAT(error_of<dm::ValueError>([&] { u.reshape({1}); }), HasSubstr("[reshape]"));
  EXPECT_THROW(u.view({1}), dm::ValueError);
  EXPECT_THROW(u.flatten(), dm::ValueError);
}
