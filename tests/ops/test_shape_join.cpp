// cat and stack: each output element traced back to its input by index arithmetic.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

// Input `part` and position along `dim` inside it for output position k along `dim`.
std::pair<std::size_t, std::int64_t> locate(const std::vector<Tensor>& parts, int dim, std::int64_t k) {
  std::size_t p = 0;
  while (k >= parts[p].size(dim)) k -= parts[p++].size(dim);
  return {p, k};
}

void expect_cat(const Tensor& out, const std::vector<Tensor>& parts, int dim) {
  Shape want = parts[0].shape();
  want[dim] = 0;
  for (const Tensor& t : parts) want[dim] += t.size(dim);
  expect_elements(out, want, [&](const Index& i) {
    const auto [p, k] = locate(parts, dim, i[static_cast<std::size_t>(dim)]);
    Index j = i;
    j[static_cast<std::size_t>(dim)] = k;
    return at(parts[p], j);
  });
}

}  // namespace

TEST(Cat, EveryDimWithUnequalParts) {
  for (int dim = 0; dim < 3; ++dim) {
    SCOPED_TRACE(dim);
    std::vector<Tensor> parts;
    double shift = 0.5;
    for (std::int64_t extent : {2, 1, 3}) {
      Shape s = {2, 3, 4};
      s[dim] = extent;
      parts.push_back(numbered(s, dm::DType::f64, shift));
      shift += 100.0;
    }
    const Tensor out = dm::cat(parts, dim);
    expect_cat(out, parts, dim);
    EXPECT_TRUE(out.is_contiguous());
    for (const Tensor& p : parts) EXPECT_FALSE(out.shares_storage_with(p));
    expect_cat(dm::cat(parts, dim - 3), parts, dim);
  }
}

TEST(Cat, StridedInputsSinglePartAndEmptyParts) {
  const Tensor a = numbered({4, 3}).t();                  // (3, 4) transposed
  const Tensor b = numbered({3, 10}).slice(1, 0, 10, 5);  // (3, 2) step slice
  const Tensor c = numbered({1, 3}).expand({2, 3}).t();   // (3, 2) expanded
  const Tensor e = Tensor::zeros({3, 0}, dm::DType::f64);
  const std::vector<Tensor> parts = {a, e, b, c, e};
  expect_cat(dm::cat(parts, 1), parts, 1);
  const Tensor single = dm::cat({a}, 0);
  expect_cat(single, {a}, 0);
  EXPECT_FALSE(single.shares_storage_with(a));
  EXPECT_EQ(dm::cat({e, e}, 0).shape(), Shape({6, 0}));
}

TEST(Cat, Errors) {
  const Tensor a = numbered({2, 3});
  const std::string msg = error_of<dm::ShapeError>([&] { dm::cat({a, numbered({2, 4})}, 0); });
  EXPECT_THAT(msg, HasSubstr("[cat]"));
  EXPECT_THAT(msg, HasSubstr("(2, 3)"));
  EXPECT_THAT(msg, HasSubstr("(2, 4)"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { dm::cat({a, numbered({2, 3, 1})}, 0); }), HasSubstr("(2, 3, 1)"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { dm::cat({}, 0); }), HasSubstr("empty"));
  EXPECT_THAT(error_of<dm::DTypeError>([&] { dm::cat({a, numbered({2, 3}, dm::DType::f32)}, 0); }),
              HasSubstr("f32"));
  const Tensor elsewhere = Tensor::zeros({2, 3}, dm::DType::f64, dm::Device::cpu(1));
  EXPECT_THAT(error_of<dm::DeviceError>([&] { dm::cat({a, elsewhere}, 0); }), HasSubstr("cpu:1"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { dm::cat({Tensor::scalar(1.0), Tensor::scalar(2.0)}, 0); }),
              HasSubstr("0-d"));
  EXPECT_THROW(dm::cat({a, a}, 2), dm::ShapeError);
  EXPECT_THROW(dm::cat({a, Tensor()}, 0), dm::ValueError);
}

TEST(Stack, EveryPositionOfTheNewDim) {
  const std::vector<Tensor> parts = {numbered({2, 3}), numbered({3, 2}, dm::DType::f64, 100.0).t(), numbered({2, 3}, dm::DType::f64, -50.0)};
  for (std::int64_t dim = -3; dim <= 2; ++dim) {
    SCOPED_TRACE(dim);
    const Tensor out = dm::stack(parts, dim);
    const std::size_t d = static_cast<std::size_t>(dim < 0 ? dim + 3 : dim);
    Shape want = {2, 3};
    want.insert(static_cast<int>(d), 3);
    expect_elements(out, want, [&](const Index& i) {
      Index j = i;
      j.erase(j.begin() + static_cast<std::ptrdiff_t>(d));
      return at(parts[static_cast<std::size_t>(i[d])], j);
    });
  }
}

TEST(Stack, ScalarsEmptyAndErrors) {
  const Tensor s = dm::stack({Tensor::scalar(1.0), Tensor::scalar(2.0), Tensor::scalar(3.0)});
  EXPECT_EQ(s.shape(), Shape({3}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(dm::stack({Tensor::zeros({0, 2}), Tensor::zeros({0, 2})}, 1).shape(), Shape({0, 2, 2}));
  const Tensor a = numbered({2, 3});
  const std::string msg = error_of<dm::ShapeError>([&] { dm::stack({a, numbered({3, 2})}); });
  EXPECT_THAT(msg, HasSubstr("[stack]"));
  EXPECT_THAT(msg, HasSubstr("(2, 3)"));
  EXPECT_THAT(msg, HasSubstr("(3, 2)"));
  EXPECT_THAT(error_of<dm::ValueError>([&] { dm::stack({}); }), HasSubstr("empty"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { dm::stack({a, a}, 3); }), HasSubstr("dim 3"));
  EXPECT_THROW(dm::stack({a, a}, -4), dm::ShapeError);
  EXPECT_THROW(dm::stack({a, numbered({2, 3}, dm::DType::i32)}), dm::DTypeError);
  const Tensor eight = Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 1});
  EXPECT_THAT(error_of<dm::ShapeError>([&] { dm::stack({eight, eight}); }), HasSubstr("maximum of 8 dims"));
}
