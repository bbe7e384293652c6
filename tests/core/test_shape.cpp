// Shape: broadcasting against a rule written out here, dim normalisation, printing, and the
// container itself (the 8-dim limit, insert/erase, numel, contiguous strides).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <sstream>

#include "democratising/democratising.hpp"

using dm::Shape;
using testing::HasSubstr;

namespace {

// NumPy's rule, dim by dim from the right: extents must agree or one of them must be 1.
std::optional<std::vector<std::int64_t>> naive_broadcast(const std::vector<std::int64_t>& a,
                                                         const std::vector<std::int64_t>& b) {
  std::vector<std::int64_t> out;
  auto ia = a.rbegin(), ib = b.rbegin();
  while (ia != a.rend() || ib != b.rend()) {
    const std::int64_t x = ia != a.rend() ? *ia++ : 1;
    const std::int64_t y = ib != b.rend() ? *ib++ : 1;
    if (x == y || y == 1) {
      out.insert(out.begin(), x);
    } else if (x == 1) {
      out.insert(out.begin(), y);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

TEST(Shape, BroadcastMatchesNaiveRuleOnRandomPairs) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> ndim(0, 5), extent(0, 3);
  int clashes = 0, fits = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::vector<std::int64_t> a(static_cast<std::size_t>(ndim(rng))), b(static_cast<std::size_t>(ndim(rng)));
    for (auto& d : a) d = extent(rng);
    for (auto& d : b) d = extent(rng);
    // Bias towards compatible pairs: copy a's tail into b (keeping some 1s) half the time.
    if (trial % 2 == 0)
      for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (b[b.size() - 1 - i] != 1) b[b.size() - 1 - i] = a[a.size() - 1 - i];
    const auto want = naive_broadcast(a, b);
    SCOPED_TRACE(Shape(a).str() + " vs " + Shape(b).str());
    if (want) {
      ++fits;
      EXPECT_EQ(dm::broadcast_shapes(a, b), *want);
      EXPECT_EQ(dm::broadcast_shapes(b, a), *want);
    } else {
      ++clashes;
      try {
        dm::broadcast_shapes(a, b, "add");
        ADD_FAILURE() << "no error";
      } catch (const dm::ShapeError& e) {
        EXPECT_THAT(e.what(), HasSubstr("[add]"));
        EXPECT_THAT(e.what(), HasSubstr(Shape(a).str()));
        EXPECT_THAT(e.what(), HasSubstr(Shape(b).str()));
      }
    }
  }
  EXPECT_GT(clashes, 500);  // both branches are exercised
  EXPECT_GT(fits, 500);
}

TEST(Shape, BroadcastHandPickedCases) {
  EXPECT_EQ(dm::broadcast_shapes({2, 1, 4}, {3, 1}), Shape({2, 3, 4}));
  EXPECT_EQ(dm::broadcast_shapes({}, {5, 2}), Shape({5, 2}));
  EXPECT_EQ(dm::broadcast_shapes({1, 0}, {7, 1}), Shape({7, 0}));
  const std::string msg = [] {
    try {
      dm::broadcast_shapes({2, 3}, {4});
    } catch (const dm::ShapeError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_THAT(msg, HasSubstr("[broadcast] shapes (2, 3) and (4,) cannot be broadcast"));
}

TEST(Shape, NormalizeDimAcceptsExactlyTheValidRange) {
  for (int ndim = 0; ndim <= dm::kMaxDims; ++ndim)
    for (std::int64_t dim = -ndim - 3; dim <= ndim + 2; ++dim) {
      SCOPED_TRACE(testing::Message() << "ndim " << ndim << " dim " << dim);
      // A 0-d tensor accepts 0 and -1, as in torch; otherwise [-ndim, ndim).
      const std::int64_t n = ndim == 0 ? 1 : ndim;
      if (dim >= -n && dim < n) {
        EXPECT_EQ(dm::normalize_dim(dim, ndim, "op"), dim < 0 ? dim + n : dim);
      } else {
        try {
          dm::normalize_dim(dim, ndim, "sum");
          ADD_FAILURE() << "no error";
        } catch (const dm::ShapeError& e) {
          EXPECT_THAT(e.what(), HasSubstr("[sum] dim " + std::to_string(dim)));
        }
      }
    }
}

TEST(Shape, StrAndStream) {
  EXPECT_EQ(Shape({2, 3}).str(), "(2, 3)");
  EXPECT_EQ(Shape({4}).str(), "(4,)");
  EXPECT_EQ(Shape{}.str(), "()");
  EXPECT_EQ(Shape({1, 0, 7}).str(), "(1, 0, 7)");
  std::ostringstream os;
  os << Shape({5, 6});
  EXPECT_EQ(os.str(), "(5, 6)");
}

TEST(Shape, ContainerOperationsAndTheEightDimLimit) {
  Shape s = {2, 3};
  s.insert(0, 7);
  s.insert(3, 9);
  EXPECT_EQ(s, Shape({7, 2, 3, 9}));
  s.erase(1);
  EXPECT_EQ(s, (std::vector<std::int64_t>{7, 3, 9}));
  EXPECT_EQ(s.numel(), 189);
  EXPECT_EQ(s.back(), 9);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(Shape({3, 0}).numel(), 0);
  Shape full;
  for (int i = 0; i < dm::kMaxDims; ++i) full.push_back(1);
  EXPECT_THROW(full.push_back(1), dm::ShapeError);
  EXPECT_THROW(full.insert(0, 1), dm::ShapeError);
  EXPECT_THROW(Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}), dm::ShapeError);
  EXPECT_THROW(Shape(std::vector<std::int64_t>(9, 1)), dm::ShapeError);
  EXPECT_FALSE(Shape({1, 2}) == Shape({1, 2, 1}));
}

TEST(Shape, ContiguousStrides) {
  EXPECT_EQ(dm::contiguous_strides({2, 3, 4}), Shape({12, 4, 1}));
  EXPECT_EQ(dm::contiguous_strides({5}), Shape({1}));
  EXPECT_EQ(dm::contiguous_strides({}), Shape{});
  EXPECT_EQ(dm::contiguous_strides({3, 0, 2}), Shape({0, 2, 1}));
}
