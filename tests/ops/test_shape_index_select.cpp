// index_select: every output element against out[.., r, ..] = in[.., index[r], ..].
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

void expect_gathered(const Tensor& out, const Tensor& in, int dim, const std::vector<std::int64_t>& rows) {
  Shape want = in.shape();
  want[dim] = static_cast<std::int64_t>(rows.size());
  expect_elements(out, want, [&](const Index& i) {
    Index j = i;
    j[static_cast<std::size_t>(dim)] = rows[static_cast<std::size_t>(i[static_cast<std::size_t>(dim)])];
    return at(in, j);
  });
}

}  // namespace

TEST(IndexSelect, EveryDimWithI32AndI64Indices) {
  const Tensor in = numbered({4, 3, 5});
  const std::vector<std::int64_t> rows = {2, 0, 2, 1};
  for (int dim = 0; dim < 3; ++dim) {
    SCOPED_TRACE(dim);
    const Tensor i64 = Tensor::from_vector(rows);
    const Tensor i32 = i64.to(dm::DType::i32);
    for (const Tensor& idx : {i64, i32}) {
      const Tensor out = in.index_select(dim, idx);
      expect_gathered(out, in, dim, rows);
      EXPECT_FALSE(out.shares_storage_with(in));
      EXPECT_TRUE(out.is_contiguous());
    }
    expect_gathered(in.index_select(dim - 3, i64), in, dim, rows);  // negative dim
  }
}

TEST(IndexSelect, StridedInputsAndIndices) {
  const Tensor base = numbered({6, 8});
  const Tensor in = base.slice(1, 0, 8, 3).t();  // (3, 6)
  const Tensor idx_base = Tensor::from_vector(std::vector<std::int64_t>{5, 9, 0, 9, 2, 9, 5});
  const Tensor idx = idx_base.slice(0, 0, 7, 2);  // {5, 0, 2, 5}, stride 2
  expect_gathered(in.index_select(1, idx), in, 1, {5, 0, 2, 5});
  expect_gathered(in.index_select(0, idx.slice(0, 1, 3)), in, 0, {0, 2});
}

TEST(IndexSelect, LargeRandomGatherUsesEveryBlock) {
  // Enough elements for several parallel blocks, with rows both shorter and longer than one.
  std::mt19937 rng(7);
  for (const Shape& s : std::vector<Shape>{{3000, 7}, {5, 20000}, {40, 30, 50}}) {
    SCOPED_TRACE(s.str());
    const Tensor in = Tensor::randn(s);
    for (int dim = 0; dim < s.size(); ++dim) {
      std::vector<std::int64_t> rows(static_cast<std::size_t>(s[dim] + 3));
      for (auto& r : rows) r = std::uniform_int_distribution<std::int64_t>(0, s[dim] - 1)(rng);
      expect_gathered(in.index_select(dim, Tensor::from_vector(rows)), in, dim, rows);
    }
  }
}

TEST(IndexSelect, EmptyIndexEmptyInputAndEveryDtype) {
  const Tensor in = numbered({3, 4});
  const Tensor none = Tensor::from_vector(std::vector<std::int64_t>{});
  EXPECT_EQ(in.index_select(0, none).shape(), Shape({0, 4}));
  const Tensor hollow = Tensor::zeros({3, 0});
  EXPECT_EQ(hollow.index_select(0, Tensor::from_vector(std::vector<std::int64_t>{1, 1})).shape(), Shape({2, 0}));
  for (dm::DType dt : {dm::DType::f32, dm::DType::bf16, dm::DType::i32, dm::DType::i64, dm::DType::u8, dm::DType::boolean}) {
    SCOPED_TRACE(std::string(dm::dtype_name(dt)));
    const Tensor typed = numbered({3, 4}, dt);
    const Tensor out = typed.index_select(1, Tensor::from_vector(std::vector<std::int64_t>{3, 1}));
    EXPECT_EQ(out.dtype(), dt);
    expect_gathered(out, typed, 1, {3, 1});
  }
}

TEST(IndexSelect, Errors) {
  const Tensor in = numbered({3, 4});
  const std::string msg = error_of<dm::ShapeError>([&] {
    in.index_select(1, Tensor::from_vector(std::vector<std::int64_t>{0, 4}));
  });
  EXPECT_THAT(msg, HasSubstr("[index_select] index 4"));
  EXPECT_THAT(msg, HasSubstr("size 4"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.index_select(0, Tensor::from_vector(std::vector<std::int32_t>{-1})); }),
              HasSubstr("index -1"));
  EXPECT_THAT(error_of<dm::DTypeError>([&] { in.index_select(0, Tensor::from_vector(std::vector<float>{0.0f})); }),
              HasSubstr("f32"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] {
    in.index_select(0, Tensor::from_vector(std::vector<std::int64_t>{0, 1}, {1, 2}));
  }), HasSubstr("must be 1-d"));
  EXPECT_THROW(in.index_select(2, Tensor::from_vector(std::vector<std::int64_t>{0})), dm::ShapeError);
  EXPECT_THROW(Tensor::scalar(1.0).index_select(0, Tensor::from_vector(std::vector<std::int64_t>{0})), dm::ShapeError);
  const Tensor other_device = Tensor::zeros({1}, dm::DType::i64, dm::Device::cpu(1));
  EXPECT_THAT(error_of<dm::DeviceError>([&] { in.index_select(0, other_device); }), HasSubstr("cpu:1"));
  EXPECT_THROW(Tensor().index_select(0, Tensor::from_vector(std::vector<std::int64_t>{0})), dm::ValueError);
  EXPECT_THROW(in.index_select(0, Tensor()), dm::ValueError);
}
