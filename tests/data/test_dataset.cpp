// TensorDataset and gather_rows against a naive element-by-element reference.
#include <gtest/gtest.h>

#include <vector>

#include "democratising/data/dataset.hpp"
#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::Tensor;
using dm::data::TensorDataset;

// Row r of a (n, c) tensor, read through to_vector: independent of gather_rows' memcpy.
template <class T>
std::vector<T> naive_rows(const Tensor& src, const std::vector<std::int64_t>& indices) {
  const auto all = src.to_vector<T>();
  const std::int64_t row = src.numel() / src.size(0);
  std::vector<T> out;
  for (std::int64_t i : indices)
    for (std::int64_t k = 0; k < row; ++k) out.push_back(all[static_cast<std::size_t>(i * row + k)]);
  return out;
}

Tensor iota(std::int64_t n, std::int64_t c, dm::DType dtype) {
  std::vector<double> v(static_cast<std::size_t>(n * c));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i % 251);
  return Tensor::from_vector(v, {n, c}).to(dtype);
}

TEST(GatherRows, MatchesNaiveReferenceSmallAndLarge) {
  for (const std::int64_t cols : {std::int64_t{3}, std::int64_t{1024}}) {  // 1024 f32 cols: the parallel path
    const Tensor src = iota(700, cols, dm::DType::f32);
    std::vector<std::int64_t> idx;
    for (std::int64_t i = 0; i < 600; ++i) idx.push_back((i * 7919) % 700);
    idx.insert(idx.end(), {5, 6, 7, 8, 9, 3, 3, 699});  // a run, a repeat, the last row
    const Tensor out = dm::data::gather_rows(src, idx);
    EXPECT_EQ(out.shape(), (std::vector<std::int64_t>{static_cast<std::int64_t>(idx.size()), cols}));
    EXPECT_EQ(out.to_vector<float>(), naive_rows<float>(src, idx));
  }
}

TEST(GatherRows, KeepsTrailingDimsAndDType) {
  const Tensor src = iota(4, 6, dm::DType::i64);
  const Tensor out = dm::data::gather_rows(src, {3, 0});
  EXPECT_EQ(out.dtype(), dm::DType::i64);
  EXPECT_EQ(out.to_vector<std::int64_t>(), naive_rows<std::int64_t>(src, {3, 0}));
  const Tensor empty = dm::data::gather_rows(src, {});
  EXPECT_EQ(empty.shape(), (std::vector<std::int64_t>{0, 6}));
}

TEST(GatherRows, RejectsBadIndicesAndZeroDim) {
  const Tensor src = iota(4, 2, dm::DType::f32);
  EXPECT_THROW(dm::data::gather_rows(src, {4}), dm::ShapeError);
  EXPECT_THROW(dm::data::gather_rows(src, {-1}), dm::ShapeError);
  EXPECT_THROW(dm::data::gather_rows(Tensor::scalar(1.0), {0}), dm::ShapeError);
}

TEST(TensorDataset, BatchesAndSingleSamples) {
  const Tensor x = iota(5, 4, dm::DType::f64);
  const Tensor y = Tensor::from_vector<std::int64_t>({10, 11, 12, 13, 14});
  const TensorDataset ds(x, y);
  EXPECT_EQ(ds.size(), 5);
  const dm::Batch b = ds.get_batch({4, 1});
  EXPECT_EQ(b.x.to_vector<double>(), naive_rows<double>(x, {4, 1}));
  EXPECT_EQ(b.y.to_vector<std::int64_t>(), (std::vector<std::int64_t>{14, 11}));
  const dm::Batch one = ds.get(2);
  EXPECT_EQ(one.x.shape(), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(one.y.dim(), 0);
  EXPECT_EQ(one.x.to_vector<double>(), naive_rows<double>(x, {2}));
  EXPECT_EQ(one.y.item<std::int64_t>(), 12);
}

TEST(TensorDataset, RejectsMismatchedSampleCounts) {
  EXPECT_THROW(TensorDataset(Tensor::zeros({3, 2}), Tensor::zeros({4})), dm::ShapeError);
  EXPECT_THROW(TensorDataset(Tensor::scalar(1.0), Tensor::zeros({1})), dm::ShapeError);
  EXPECT_THROW(TensorDataset(Tensor(), Tensor::zeros({1})), dm::ValueError);
}

}  // namespace
