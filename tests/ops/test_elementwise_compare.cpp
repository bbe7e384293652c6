// Comparisons (bool results, against naive loops, with broadcasting and scalars) and where.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

using Cmp = std::function<bool(double, double)>;

struct NamedCompare {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  std::function<Tensor(const Tensor&, double)> op_scalar;
  Cmp ref;
};

std::vector<NamedCompare> comparisons() {
  return {
      {"eq", [](const Tensor& a, const Tensor& b) { return a.eq(b); }, [](const Tensor& a, double s) { return a.eq(s); },
       [](double x, double y) { return x == y; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return a.ne(b); }, [](const Tensor& a, double s) { return a.ne(s); },
       [](double x, double y) { return x != y; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return a.lt(b); }, [](const Tensor& a, double s) { return a.lt(s); },
       [](double x, double y) { return x < y; }},
      {"le", [](const Tensor& a, const Tensor& b) { return a.le(b); }, [](const Tensor& a, double s) { return a.le(s); },
       [](double x, double y) { return x <= y; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return a.gt(b); }, [](const Tensor& a, double s) { return a.gt(s); },
       [](double x, double y) { return x > y; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return a.ge(b); }, [](const Tensor& a, double s) { return a.ge(s); },
       [](double x, double y) { return x >= y; }},
  };
}

// Small integers so that equality is common; NaN compares false except under ne.
Tensor small_values(const Shape& shape, DType dtype, std::mt19937& rng, bool with_nan) {
  std::uniform_int_distribution<int> dist(-2, 2);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = dist(rng) * 0.5;
  if (with_nan && !v.empty()) v[0] = std::nan("");
  if (!is_floating(dtype))
    for (auto& x : v) x = std::round(dtype == DType::u8 ? std::abs(x) : x);  // u8 cannot hold negatives
  return Tensor::from_vector(v, shape).to(dtype);
}

TEST(ElementwiseCompare, TensorTensorWithBroadcastingMatchesNaiveLoops) {
  std::mt19937 rng(11);
  for (DType dtype : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::bf16}) {
    const bool floating = is_floating(dtype);
    const Tensor a = small_values({5, 1, 67}, dtype, rng, floating);
    const Tensor b = small_values({3, 67}, dtype, rng, floating);
    const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
    for (const auto& c : comparisons()) {
      const Tensor r = c.op(a, b);
      ASSERT_EQ(r.dtype(), DType::boolean);
      ASSERT_EQ(r.shape(), Shape({5, 3, 67}));
      const auto rv = r.to_vector<bool>();
      for (std::int64_t i = 0; i < 5; ++i)
        for (std::int64_t j = 0; j < 3; ++j)
          for (std::int64_t k = 0; k < 67; ++k) {
            const bool want = c.ref(av[static_cast<std::size_t>(i * 67 + k)], bv[static_cast<std::size_t>(j * 67 + k)]);
            ASSERT_EQ(rv[static_cast<std::size_t>((i * 3 + j) * 67 + k)], want)
                << c.name << " " << dtype_name(dtype) << " at " << i << "," << j << "," << k;
          }
    }
  }
}

TEST(ElementwiseCompare, TensorScalar) {
  std::mt19937 rng(12);
  for (DType dtype : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    const Tensor a = small_values({131}, dtype, rng, false);
    const auto av = a.to_vector<double>();
    for (const auto& c : comparisons()) {
      for (double s : {0.0, 1.0, 0.5, -0.5, -1.0, 300.0, -1e30}) {
        const auto rv = c.op_scalar(a, s).to_vector<bool>();
        for (std::size_t i = 0; i < av.size(); ++i)
          ASSERT_EQ(rv[i], c.ref(av[i], s)) << c.name << " " << dtype_name(dtype) << " vs " << s << " at " << i;
      }
    }
  }
}

TEST(ElementwiseCompare, FloatTensorComparesWithTheScalarRoundedToItsDType) {
  // As in PyTorch: 0.1 is rounded to f32 before comparing with an f32 tensor.
  const Tensor t = Tensor::from_vector<float>({0.1f}, {1});
  EXPECT_TRUE(t.eq(0.1).item<bool>());
  EXPECT_FALSE(t.to(DType::f64).eq(0.1).item<bool>());
}

TEST(ElementwiseCompare, MixedDTypesPromoteBeforeComparing) {
  const Tensor i = Tensor::from_vector<std::int32_t>({1, 2, 3}, {3});
  const Tensor f = Tensor::from_vector<float>({1.5f, 2.0f, 2.5f}, {3});
  EXPECT_EQ(i.lt(f).to_vector<bool>(), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(i.eq(f).to_vector<bool>(), (std::vector<bool>{false, true, false}));
  EXPECT_THROW((void)i.lt(Tensor::zeros({2})), ShapeError);
}

TEST(ElementwiseWhere, SelectsWithThreeWayBroadcasting) {
  std::mt19937 rng(13);
  std::bernoulli_distribution coin(0.5);
  std::vector<bool> cv(4 * 1 * 5);
  for (std::size_t i = 0; i < cv.size(); ++i) cv[i] = coin(rng);
  const Tensor cond = Tensor::from_vector(cv, {4, 1, 5});
  const Tensor a = small_values({3, 5}, DType::f32, rng, false);
  const Tensor b = small_values({4, 3, 1}, DType::f64, rng, false);
  const Tensor r = where(cond, a, b);
  ASSERT_EQ(r.shape(), Shape({4, 3, 5}));
  EXPECT_EQ(r.dtype(), DType::f64);
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>(), rv = r.to_vector<double>();
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 5; ++k) {
        const double want = cv[i * 5 + k] ? av[j * 5 + k] : bv[i * 3 + j];
        EXPECT_EQ(rv[(i * 3 + j) * 5 + k], want) << i << "," << j << "," << k;
      }
}

TEST(ElementwiseWhere, EveryDTypeAndStridedInputs) {
  const Tensor cond = Tensor::from_vector<bool>({true, false, false, true, true, false}, {2, 3});
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8, DType::boolean}) {
    const Tensor a = Tensor::from_vector<double>({1, 0, 1, 0, 1, 1}, {2, 3}).to(dtype);
    const Tensor b_base = Tensor::from_vector<double>({0, 1, 0, 1, 0, 0}, {3, 2}).to(dtype);
    const Tensor b = make_view(b_base, {2, 3}, {1, 2}, 0);  // transposed: {0, 0, 0, 1, 1, 0}
    const Tensor r = where(cond, a, b);
    EXPECT_EQ(r.dtype(), dtype);
    EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 1, 0})) << dtype_name(dtype);
  }
  // A scalar-like 0-d operand broadcasts.
  const Tensor r = where(cond, Tensor::ones({2, 3}), Tensor::scalar(-1.0));
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{1, -1, -1, 1, 1, -1}));
}

TEST(ElementwiseWhere, RejectsNonBoolConditionAndBadShapes) {
  try {
    (void)where(Tensor::ones({2}), Tensor::ones({2}), Tensor::ones({2}));
    FAIL() << "expected a DTypeError";
  } catch (const DTypeError& e) {
    EXPECT_NE(std::string(e.what()).find("[where]"), std::string::npos) << e.what();
  }
  const Tensor cond = Tensor::ones({2}, DType::boolean);
  EXPECT_THROW((void)where(cond, Tensor::ones({3}), Tensor::ones({2})), ShapeError);
  EXPECT_THROW((void)where(cond, Tensor::ones({2}), Tensor::ones({3, 3})), ShapeError);
}

}  // namespace
}  // namespace dm
