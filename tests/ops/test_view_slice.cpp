// slice, narrow and select against Python's slicing rules written out in the test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

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

// The positions Python's range(size)[start:end:step] picks, found by testing every position.
std::vector<std::int64_t> python_slice(std::int64_t size, std::int64_t start, std::int64_t end, std::int64_t step) {
  auto resolve = [&](std::int64_t b) {
    if (b < 0) b += size;
    if (b < 0) b = 0;
    if (b > size) b = size;
    return b;
  };
  const std::int64_t lo = resolve(start), hi = resolve(end);
  std::vector<std::int64_t> picked;
  for (std::int64_t k = 0; k < size; ++k)
    if (k >= lo && k < hi && (k - lo) % step == 0) picked.push_back(k);
  return picked;
}

}  // namespace

TEST(Slice, MatchesPythonSlicingForManyBounds) {
  const Tensor base = numbered({3, 7, 2});
  const Tensor strided = base.transpose(0, 1);  // (7, 3, 2), not contiguous
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const std::vector<std::int64_t> bounds = {-100, -8, -7, -3, -1, 0, 1, 3, 6, 7, 8, 100, big};
  for (const Tensor& in : {base, strided}) {
    const int dim = in.size(0) == 7 ? 0 : 1;
    for (std::int64_t start : bounds)
      for (std::int64_t end : bounds)
        for (std::int64_t step : {1, 2, 3, 7, 9}) {
          SCOPED_TRACE(testing::Message() << "dim " << dim << " [" << start << ":" << end << ":" << step << "]");
          const std::vector<std::int64_t> picked = python_slice(7, start, end, step);
          Shape want = in.shape();
          want[dim] = static_cast<std::int64_t>(picked.size());
          const Tensor out = in.slice(dim, start, end, step);
          expect_elements(out, want, [&](const Index& i) {
            Index j = i;
            j[static_cast<std::size_t>(dim)] = picked[static_cast<std::size_t>(i[static_cast<std::size_t>(dim)])];
            return at(in, j);
          });
          EXPECT_TRUE(out.shares_storage_with(base));
        }
  }
}

TEST(Slice, NegativeDimSlicesOfSlicesAndErrors) {
  const Tensor base = numbered({4, 10});
  const Tensor s = base.slice(-1, 1, 10, 2).slice(1, 1, -1).slice(0, -3, 4);  // cols 3,5,7; rows 1..3
  expect_elements(s, {3, 3}, [&](const Index& i) { return at(base, {1 + i[0], 3 + 2 * i[1]}); });
  EXPECT_THAT(error_of<dm::ValueError>([&] { base.slice(0, 0, 4, 0); }), HasSubstr("step must be positive"));
  EXPECT_THROW(base.slice(0, 0, 4, -1), dm::ValueError);
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.slice(2, 0, 1); }), HasSubstr("[slice] dim 2"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { Tensor::scalar(1.0).slice(0, 0, 1); }), HasSubstr("0-d"));
  const Tensor empty = base.slice(1, 5, 2);
  EXPECT_EQ(empty.shape(), Shape({4, 0}));
  EXPECT_EQ(empty.to_vector<double>().size(), 0u);
}

TEST(Narrow, RangesAndErrors) {
  const Tensor in = numbered({5, 6}).t();  // (6, 5)
  const Tensor out = in.narrow(0, 2, 3);
  expect_elements(out, {3, 5}, [&](const Index& i) { return at(in, {2 + i[0], i[1]}); });
  expect_elements(in.narrow(1, -2, 2), {6, 2}, [&](const Index& i) { return at(in, {i[0], 3 + i[1]}); });
  EXPECT_EQ(in.narrow(1, 5, 0).shape(), Shape({6, 0}));
  EXPECT_TRUE(out.shares_storage_with(in));
  const std::string msg = error_of<dm::ShapeError>([&] { in.narrow(0, 4, 3); });
  EXPECT_THAT(msg, HasSubstr("[narrow]"));
  EXPECT_THAT(msg, HasSubstr("size 6"));
  EXPECT_THROW(in.narrow(0, 7, 0), dm::ShapeError);
  EXPECT_THROW(in.narrow(0, -7, 1), dm::ShapeError);
  EXPECT_THROW(in.narrow(0, 0, -1), dm::ShapeError);
}

TEST(Select, DropsTheDimOnSeveralShapes) {
  const Tensor base = numbered({3, 4, 5});
  for (int dim = 0; dim < 3; ++dim)
    for (std::int64_t index = -base.size(dim); index < base.size(dim); ++index) {
      const Tensor out = base.select(dim, index);
      Shape want = base.shape();
      want.erase(dim);
      const std::int64_t k = index < 0 ? index + base.size(dim) : index;
      expect_elements(out, want, [&](const Index& i) {
        Index j = i;
        j.insert(j.begin() + dim, k);
        return at(base, j);
      });
      EXPECT_TRUE(out.shares_storage_with(base));
    }
  const Tensor one = numbered({3});
  EXPECT_EQ(one.select(0, 2).dim(), 0);
  EXPECT_EQ(one.select(0, -1).item<double>(), 2.5);
}

TEST(Select, OfAViewAndErrors) {
  const Tensor base = numbered({4, 6});
  const Tensor v = base.slice(1, 1, 6, 2).t();  // (3, 4): v[a, b] = base[b, 1 + 2a]
  expect_elements(v.select(1, 2), {3}, [&](const Index& i) { return at(base, {2, 1 + 2 * i[0]}); });
  const std::string msg = error_of<dm::ShapeError>([&] { base.select(1, 6); });
  EXPECT_THAT(msg, HasSubstr("index 6"));
  EXPECT_THAT(msg, HasSubstr("(4, 6)"));
  EXPECT_THROW(base.select(1, -7), dm::ShapeError);
  EXPECT_THROW(Tensor::scalar(1.0).select(0, 0), dm::ShapeError);
  EXPECT_THROW(Tensor().select(0, 0), dm::ValueError);
  EXPECT_THROW(Tensor().slice(0, 0, 1), dm::ValueError);
  EXPECT_THROW(Tensor().narrow(0, 0, 1), dm::ValueError);
}

TEST(Slice, FillThroughAStepSliceTouchesOnlyItsElements) {
  Tensor base = numbered({3, 8});
  base.slice(1, 1, 8, 3).fill_(-1.0);  // columns 1, 4, 7
  expect_elements(base, {3, 8}, [](const Index& i) {
    return i[1] % 3 == 1 ? -1.0 : static_cast<double>(i[0] * 8 + i[1]) + 0.5;
  });
}

TEST(Slice, WorksForEveryDtype) {
  for (dm::DType dt : {dm::DType::f32, dm::DType::f64, dm::DType::bf16, dm::DType::i32, dm::DType::i64, dm::DType::u8}) {
    SCOPED_TRACE(std::string(dm::dtype_name(dt)));
    const Tensor in = numbered({4, 3}, dt);
    const Tensor out = in.slice(0, 1, 4, 2).t();
    EXPECT_EQ(out.dtype(), dt);
    expect_elements(out, {3, 2}, [&](const Index& i) { return at(in, {1 + 2 * i[1], i[0]}); });
  }
}
