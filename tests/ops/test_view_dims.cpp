// transpose, t, permute, squeeze, unsqueeze and expand against index arithmetic, including
// views of views and writes through a view.
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

TEST(Transpose, SwapsIndicesOnSeveralShapes) {
  for (const Shape& s : std::vector<Shape>{{3, 4}, {2, 3, 4}, {1, 5, 2, 3}, {0, 3}}) {
    SCOPED_TRACE(s.str());
    const Tensor in = numbered(s);
    for (int a = 0; a < s.size(); ++a)
      for (int b = 0; b < s.size(); ++b) {
        const Tensor t = in.transpose(a, b);
        Shape want = s;
        std::swap(want[a], want[b]);
        expect_elements(t, want, [&](const Index& i) {
          Index j = i;
          std::swap(j[static_cast<std::size_t>(a)], j[static_cast<std::size_t>(b)]);
          return at(in, j);
        });
        EXPECT_TRUE(t.shares_storage_with(in));
      }
  }
}

TEST(Transpose, NegativeDimsViewsOfViewsAndErrors) {
  const Tensor in = numbered({2, 3, 4});
  const Tensor t = in.transpose(-1, 0);  // (4, 3, 2)
  const Tensor tt = t.transpose(1, 2);   // (4, 2, 3)
  expect_elements(tt, {4, 2, 3}, [&](const Index& i) { return at(in, {i[1], i[2], i[0]}); });
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_TRUE(tt.transpose(1, 2).transpose(0, 2).is_contiguous());
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.transpose(0, 3); }), HasSubstr("[transpose] dim 3"));
  const Tensor s = Tensor::scalar(1.0);
  EXPECT_EQ(s.transpose(0, -1).dim(), 0);
}

TEST(Transpose, TOfMatricesVectorsAndScalars) {
  const Tensor m = numbered({2, 5});
  expect_elements(m.t(), {5, 2}, [&](const Index& i) { return at(m, {i[1], i[0]}); });
  const Tensor v = numbered({4});
  expect_elements(v.t(), {4}, [&](const Index& i) { return at(v, i); });
  EXPECT_EQ(Tensor::scalar(1.0).t().dim(), 0);
  EXPECT_THAT(error_of<dm::ShapeError>([&] { numbered({2, 2, 2}).t(); }), HasSubstr("(2, 2, 2)"));
}

TEST(Permute, EveryPermutationOfThreeDims) {
  const Tensor in = numbered({2, 3, 4});
  std::vector<std::int64_t> p = {0, 1, 2};
  do {
    const Tensor out = in.permute(p);
    const Shape want = {in.size(p[0]), in.size(p[1]), in.size(p[2])};
    expect_elements(out, want, [&](const Index& i) {
      Index j(3);
      for (std::size_t k = 0; k < 3; ++k) j[static_cast<std::size_t>(p[k])] = i[k];  // out dim k is in dim p[k]
      return at(in, j);
    });
    EXPECT_TRUE(out.shares_storage_with(in));
  } while (std::next_permutation(p.begin(), p.end()));
}

TEST(Permute, OfAStridedViewAndErrors) {
  const Tensor base = numbered({4, 3, 6});
  const Tensor in = base.slice(2, 1, 6, 2).transpose(0, 1);  // (3, 4, 3)
  const Tensor out = in.permute({-1, 0, 1});                  // (3, 3, 4)
  expect_elements(out, {3, 3, 4}, [&](const Index& i) { return at(base, {i[2], i[1], 1 + 2 * i[0]}); });
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.permute({0, 0, 1}); }), HasSubstr("not a permutation"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { base.permute({0, 1}); }), HasSubstr("(4, 3, 6)"));
  EXPECT_THROW(base.permute({0, 1, 3}), dm::ShapeError);
  EXPECT_EQ(Tensor::scalar(1.0).permute({}).dim(), 0);
}

TEST(Squeeze, AllSizeOneDimsOrOne) {
  const Tensor in = numbered({1, 3, 1, 2, 1});
  const Tensor all = in.squeeze();
  expect_elements(all, {3, 2}, [&](const Index& i) { return at(in, {0, i[0], 0, i[1], 0}); });
  EXPECT_TRUE(all.shares_storage_with(in));
  EXPECT_EQ(in.squeeze(0).shape(), Shape({3, 1, 2, 1}));
  EXPECT_EQ(in.squeeze(-1).shape(), Shape({1, 3, 1, 2}));
  EXPECT_EQ(in.squeeze(1).shape(), in.shape());  // size 3: left alone, like torch
  expect_elements(in.squeeze(2), {1, 3, 2, 1}, [&](const Index& i) { return at(in, {0, i[1], 0, i[2], 0}); });
  EXPECT_EQ(numbered({1, 1}).squeeze().dim(), 0);
  EXPECT_EQ(Tensor::scalar(1.0).squeeze().dim(), 0);
  EXPECT_EQ(Tensor::scalar(1.0).squeeze(0).dim(), 0);
  EXPECT_EQ(Tensor::zeros({0, 1}).squeeze().shape(), Shape({0}));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.squeeze(5); }), HasSubstr("[squeeze]"));
}

TEST(Unsqueeze, EveryPositionAndNegativeDims) {
  const Tensor in = numbered({2, 3});
  for (std::int64_t d = -3; d <= 2; ++d) {
    SCOPED_TRACE(d);
    const Tensor out = in.unsqueeze(d);
    const std::size_t pos = static_cast<std::size_t>(d < 0 ? d + 3 : d);
    Shape want = in.shape();
    want.insert(static_cast<int>(pos), 1);
    expect_elements(out, want, [&](const Index& i) {
      Index j = i;
      j.erase(j.begin() + static_cast<std::ptrdiff_t>(pos));
      return at(in, j);
    });
    EXPECT_TRUE(out.is_contiguous());
    EXPECT_TRUE(out.shares_storage_with(in));
  }
  EXPECT_EQ(Tensor::scalar(1.0).unsqueeze(0).shape(), Shape({1}));
  EXPECT_EQ(Tensor::scalar(1.0).unsqueeze(-1).shape(), Shape({1}));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.unsqueeze(3); }), HasSubstr("[unsqueeze] dim 3"));
  EXPECT_THROW(in.unsqueeze(-4), dm::ShapeError);
  const Tensor eight = Tensor::zeros({1, 1, 1, 1, 1, 1, 1, 2});
  EXPECT_THAT(error_of<dm::ShapeError>([&] { eight.unsqueeze(0); }), HasSubstr("maximum of 8 dims"));
}

TEST(Expand, SizeOneDimsAndNewLeadingDims) {
  const Tensor in = numbered({3, 1});
  const Tensor out = in.expand({2, 3, 4});
  expect_elements(out, {2, 3, 4}, [&](const Index& i) { return at(in, {i[1], 0}); });
  EXPECT_EQ(out.stride(0), 0);
  EXPECT_EQ(out.stride(2), 0);
  EXPECT_TRUE(out.shares_storage_with(in));
  EXPECT_EQ(in.expand({-1, 5}).shape(), Shape({3, 5}));
  EXPECT_EQ(in.broadcast_to({3, 1}).shape(), Shape({3, 1}));
  EXPECT_EQ(in.expand({3, 0}).shape(), Shape({3, 0}));
  const Tensor s = Tensor::scalar(7.0, dm::DType::f64);
  expect_elements(s.expand({2, 2}), {2, 2}, [](const Index&) { return 7.0; });
  // Expanding an expanded, transposed view.
  const Tensor row = numbered({1, 4}).t();  // (4, 1)
  const Tensor grid = row.expand({4, 3}).unsqueeze(0).expand({2, -1, -1});
  expect_elements(grid, {2, 4, 3}, [&](const Index& i) { return at(row, {i[1], 0}); });
}

TEST(Expand, ErrorsNameBothShapes) {
  const Tensor in = numbered({3, 2});
  std::string msg = error_of<dm::ShapeError>([&] { in.expand({3, 4}); });
  EXPECT_THAT(msg, HasSubstr("[expand]"));
  EXPECT_THAT(msg, HasSubstr("(3, 2)"));
  EXPECT_THAT(msg, HasSubstr("(3, 4)"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.expand({2}); }), HasSubstr("fewer dims"));
  EXPECT_THAT(error_of<dm::ShapeError>([&] { in.expand({-1, 3, 2}); }), HasSubstr("-1"));
  EXPECT_THROW(in.expand({3, -2}), dm::ShapeError);
}

TEST(Views, WritesThroughViewsOfViewsReachTheBase) {
  Tensor base = Tensor::zeros({4, 5}, dm::DType::f64);
  // Column 3, rows 1 and 3, reached through a transpose, a slice and a select.
  Tensor target = base.t().select(0, 3).slice(0, 1, 4, 2);
  target.fill_(2.0);
  expect_elements(base, {4, 5}, [](const Index& i) { return i[1] == 3 && (i[0] == 1 || i[0] == 3) ? 2.0 : 0.0; });
  Tensor lifted = base.unsqueeze(0).permute({2, 0, 1}).squeeze(1);  // (5, 4) view
  lifted.select(0, 0).fill_(5.0);
  expect_elements(base, {4, 5}, [](const Index& i) {
    if (i[1] == 0) return 5.0;
    return i[1] == 3 && (i[0] == 1 || i[0] == 3) ? 2.0 : 0.0;
  });
}

TEST(Views, UndefinedTensorThrowsValueError) {
  const Tensor u;
  EXPECT_THROW(u.transpose(0, 1), dm::ValueError);
  EXPECT_THROW(u.t(), dm::ValueError);
  EXPECT_THROW(u.permute({0}), dm::ValueError);
  EXPECT_THROW(u.squeeze(), dm::ValueError);
  EXPECT_THROW(u.squeeze(0), dm::ValueError);
  EXPECT_THROW(u.unsqueeze(0), dm::ValueError);
  EXPECT_THROW(u.expand({1}), dm::ValueError);
}
