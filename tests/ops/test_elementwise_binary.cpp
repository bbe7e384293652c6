// Binary arithmetic against naive loops: every op in f32 and f64 (and integers), broadcasting
// over many random shape pairs, non-contiguous inputs, scalars on either side, promotion.
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

using Fn = std::function<double(double, double)>;

Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng, double lo = -3.0, double hi = 3.0) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = dist(rng);
  if (!is_floating(dtype))
    for (auto& x : v) x = std::round(x);
  return Tensor::from_vector(v, shape).to(dtype);
}

// The flat row-major index into `in` of the element that broadcasts to `out_index` of `out`.
std::int64_t source_index(const std::vector<std::int64_t>& out_index, const Shape& out, const Shape& in) {
  const int skip = out.size() - in.size();
  std::int64_t flat = 0;
  for (int d = 0; d < in.size(); ++d) flat = flat * in[d] + (in[d] == 1 ? 0 : out_index[static_cast<std::size_t>(d + skip)]);
  return flat;
}

// Naive reference of f(a, b) with NumPy broadcasting, in double.
std::vector<double> reference(const Tensor& a, const Tensor& b, const Shape& out, const Fn& f) {
  const auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> r;
  std::vector<std::int64_t> index(static_cast<std::size_t>(out.size()), 0);
  for (std::int64_t n = 0; n < out.numel(); ++n) {
    r.push_back(f(av[static_cast<std::size_t>(source_index(index, out, a.shape()))],
                  bv[static_cast<std::size_t>(source_index(index, out, b.shape()))]));
    for (int d = out.size() - 1; d >= 0; --d) {
      if (++index[static_cast<std::size_t>(d)] < out[d]) break;
      index[static_cast<std::size_t>(d)] = 0;
    }
  }
  return r;
}

// PyTorch's default tolerances: f32 rtol 1.3e-6 / atol 1e-5, f64 rtol 1e-12 (atol 1e-12).
void expect_close(const Tensor& got, const std::vector<double>& want, DType dtype, const std::string& what) {
  const double rtol = dtype == DType::f64 ? 1e-12 : 1.3e-6, atol = dtype == DType::f64 ? 1e-12 : 1e-5;
  const auto g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(g[i])) << what << " at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(g[i], want[i]) << what << " at " << i;
    } else {
      EXPECT_NEAR(g[i], want[i], atol + rtol * std::abs(want[i])) << what << " at " << i;
    }
  }
}

struct NamedOp {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  Fn ref;
};

std::vector<NamedOp> float_ops() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return a.add(b); }, [](double x, double y) { return x + y; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a.sub(b); }, [](double x, double y) { return x - y; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a.mul(b); }, [](double x, double y) { return x * y; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a.div(b); }, [](double x, double y) { return x / y; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return a.maximum(b); },
       [](double x, double y) { return x > y ? x : y; }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return a.minimum(b); },
       [](double x, double y) { return x < y ? x : y; }},
      {"+", [](const Tensor& a, const Tensor& b) { return a + b; }, [](double x, double y) { return x + y; }},
      {"-", [](const Tensor& a, const Tensor& b) { return a - b; }, [](double x, double y) { return x - y; }},
      {"*", [](const Tensor& a, const Tensor& b) { return a * b; }, [](double x, double y) { return x * y; }},
      {"/", [](const Tensor& a, const Tensor& b) { return a / b; }, [](double x, double y) { return x / y; }},
  };
}

TEST(ElementwiseBinary, EveryOpMatchesNaiveLoopsInF32AndF64) {
  std::mt19937 rng(1);
  for (DType dtype : {DType::f32, DType::f64}) {
    // 1000 elements: long vector runs plus a tail that is not a whole vector.
    const Tensor a = random_tensor({1001}, dtype, rng), b = random_tensor({1001}, dtype, rng);
    for (const auto& op : float_ops()) {
      const Tensor r = op.op(a, b);
      EXPECT_EQ(r.dtype(), dtype);
      expect_close(r, reference(a, b, a.shape(), op.ref), dtype, std::string(op.name) + " " + std::string(dtype_name(dtype)));
    }
  }
}

TEST(ElementwiseBinary, PowMatchesStdPow) {
  std::mt19937 rng(2);
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor base = random_tensor({257}, dtype, rng, 0.1, 4.0), e = random_tensor({257}, dtype, rng, -2.0, 3.0);
    expect_close(base.pow(e), reference(base, e, base.shape(), [](double x, double y) { return std::pow(x, y); }), dtype,
                 "pow");
    for (double s : {2.0, 3.0, 0.5, -1.0, 1.0, 0.0, 1.7, -2.5}) {
      const Tensor r = base.pow(s);
      const auto bv = base.to_vector<double>();
      std::vector<double> want;
      for (double x : bv) want.push_back(std::pow(x, s));
      expect_close(r, want, dtype, "pow scalar " + std::to_string(s));
    }
  }
}

TEST(ElementwiseBinary, IntegerArithmeticIsExactAndWraps) {
  const Tensor a = Tensor::from_vector<std::int32_t>({7, -7, 2147483647, 0, 5, -3}, {6});
  const Tensor b = Tensor::from_vector<std::int32_t>({2, 2, 1, 9, -5, 3}, {6});
  EXPECT_EQ(a.add(b).dtype(), DType::i32);
  EXPECT_EQ(a.add(b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{9, -5, -2147483647 - 1, 9, 0, 0}));
  EXPECT_EQ(a.sub(b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{5, -9, 2147483646, -9, 10, -6}));
  EXPECT_EQ(a.mul(b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{14, -14, 2147483647, 0, -25, -9}));
  EXPECT_EQ(a.maximum(b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{7, 2, 2147483647, 9, 5, 3}));
  EXPECT_EQ(a.minimum(b).to_vector<std::int32_t>(), (std::vector<std::int32_t>{2, -7, 1, 0, -5, -3}));
  // int / int is true division, as in PyTorch.
  const Tensor q = a.div(b);
  EXPECT_EQ(q.dtype(), DType::f32);
  expect_close(q, {3.5, -3.5, 2147483647.0, 0.0, -1.0, -1.0}, DType::f32, "int div");

  const Tensor base = Tensor::from_vector<std::int64_t>({2, -3, 5, 1, -1, -1, 0, 7}, {8});
  const Tensor e = Tensor::from_vector<std::int64_t>({10, 3, 0, -4, -3, -2, 5, 2}, {8});
  EXPECT_EQ(base.pow(e).to_vector<std::int64_t>(), (std::vector<std::int64_t>{1024, -27, 1, 1, -1, 1, 0, 49}));
  EXPECT_EQ(base.pow(3.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{8, -27, 125, 1, -1, -1, 0, 343}));
  EXPECT_EQ(base.pow(2.0).dtype(), DType::i64);
  EXPECT_THROW(base.pow(-1.0), ValueError);

  const Tensor u = Tensor::from_vector<std::uint8_t>({250, 3}, {2});
  EXPECT_EQ(u.add(u).to_vector<std::int64_t>(), (std::vector<std::int64_t>{244, 6}));  // wraps like uint8
}

TEST(ElementwiseBinary, BoolArithmeticFollowsPyTorch) {
  const Tensor t = Tensor::from_vector<bool>({true, true, false, false}, {4});
  const Tensor f = Tensor::from_vector<bool>({true, false, true, false}, {4});
  EXPECT_EQ(t.add(f).dtype(), DType::boolean);
  EXPECT_EQ(t.add(f).to_vector<bool>(), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(t.mul(f).to_vector<bool>(), (std::vector<bool>{true, false, false, false}));
  EXPECT_THROW(t.sub(f), DTypeError);
  EXPECT_EQ(t.add(1.0).dtype(), DType::i64);
  EXPECT_EQ(t.add(1.0).to_vector<std::int64_t>(), (std::vector<std::int64_t>{2, 2, 1, 1}));
  EXPECT_EQ(t.div(f).dtype(), DType::f32);
}

TEST(ElementwiseBinary, BroadcastingOverRandomShapePairs) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> ndim(0, 4), size(1, 4), coin(0, 2);
  const auto ops = float_ops();
  for (int trial = 0; trial < 200; ++trial) {
    // Build a compatible pair: each dim is shared, or 1 on one side; ranks may differ.
    const int n = ndim(rng);
    std::vector<std::int64_t> sa, sb;
    for (int d = 0; d < n; ++d) {
      const std::int64_t s = size(rng);
      const int c = coin(rng);
      sa.push_back(c == 1 ? 1 : s);
      sb.push_back(c == 2 ? 1 : s);
    }
    const int drop = std::uniform_int_distribution<int>(0, n)(rng);
    if (trial % 2) sa.erase(sa.begin(), sa.begin() + drop); else sb.erase(sb.begin(), sb.begin() + drop);
    const DType dtype = trial % 3 == 0 ? DType::f64 : DType::f32;
    const Tensor a = random_tensor(Shape(sa), dtype, rng), b = random_tensor(Shape(sb), dtype, rng, 0.5, 3.0);
    const auto& op = ops[static_cast<std::size_t>(trial) % ops.size()];
    const Tensor r = op.op(a, b);
    const Shape want_shape = broadcast_shapes(a.shape(), b.shape());
    ASSERT_EQ(r.shape(), want_shape) << a.shape() << " vs " << b.shape();
    expect_close(r, reference(a, b, want_shape, op.ref), dtype,
                 std::string(op.name) + " " + a.shape().str() + " " + b.shape().str());
  }
}

TEST(ElementwiseBinary, IncompatibleShapesNameBothShapes) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  try {
    (void)a.add(b);
    FAIL() << "expected a ShapeError";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[add]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(2, 3)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(4,)"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)(a * Tensor::zeros({3, 3})), ShapeError);
  EXPECT_THROW((void)a.maximum(Tensor::zeros({2, 1, 2})), ShapeError);
  EXPECT_THROW((void)a.add(Tensor()), ValueError);
}

TEST(ElementwiseBinary, NonContiguousInputs) {
  std::mt19937 rng(4);
  for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
    // a^T: a (5, 7) viewed as (7, 5) with strides (1, 7).
    const Tensor base = random_tensor({5, 7}, dtype, rng);
    const Tensor at = make_view(base, {7, 5}, {1, 7}, 0);
    // Every other column of a (7, 10) block, starting at column 1.
    const Tensor wide = random_tensor({7, 10}, dtype, rng, 1.0, 3.0);
    const Tensor sliced = make_view(wide, {7, 5}, {10, 2}, 1);
    ASSERT_FALSE(at.is_contiguous());
    ASSERT_FALSE(sliced.is_contiguous());
    expect_close(at.add(sliced), reference(at, sliced, {7, 5}, [](double x, double y) { return x + y; }), dtype, "t+s");
    expect_close(sliced.mul(at), reference(sliced, at, {7, 5}, [](double x, double y) { return x * y; }), dtype, "s*t");
    // A column broadcast from a strided row of the transposed view.
    const Tensor column = make_view(base, {7, 1}, {1, 1}, 0);
    expect_close(at.sub(column), reference(at, column, {7, 5}, [](double x, double y) { return x - y; }), dtype, "t-c");
  }
}

TEST(ElementwiseBinary, ScalarsOnEitherSide) {
  std::mt19937 rng(5);
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor a = random_tensor({3, 41}, dtype, rng, 0.5, 3.0);
    const auto av = a.to_vector<double>();
    auto check = [&](const Tensor& got, const std::function<double(double)>& f, const std::string& what) {
      std::vector<double> want;
      for (double x : av) want.push_back(f(x));
      EXPECT_EQ(got.dtype(), dtype) << what;
      expect_close(got, want, dtype, what);
    };
    // In f32 the scalar is rounded to f32 first, as PyTorch does.
    const double s = dtype == DType::f32 ? static_cast<double>(0.3f) : 0.3;
    check(a.add(0.3), [&](double x) { return x + s; }, "add");
    check(a.sub(0.3), [&](double x) { return x - s; }, "sub");
    check(a.mul(0.3), [&](double x) { return x * s; }, "mul");
    check(a.div(0.3), [&](double x) { return x / s; }, "div");
    check(a + 0.3, [&](double x) { return x + s; }, "t+s");
    check(0.3 + a, [&](double x) { return s + x; }, "s+t");
    check(a - 0.3, [&](double x) { return x - s; }, "t-s");
    check(0.3 - a, [&](double x) { return s - x; }, "s-t");
    check(a * 0.3, [&](double x) { return x * s; }, "t*s");
    check(0.3 * a, [&](double x) { return s * x; }, "s*t");
    check(a / 0.3, [&](double x) { return x / s; }, "t/s");
    check(0.3 / a, [&](double x) { return s / x; }, "s/t");
    check(-a, [&](double x) { return -x; }, "-t");
  }
}

TEST(ElementwiseBinary, DTypePromotion) {
  const Tensor f32 = Tensor::ones({2}, DType::f32), f64 = Tensor::ones({2}, DType::f64);
  const Tensor i32 = Tensor::ones({2}, DType::i32), i64 = Tensor::ones({2}, DType::i64);
  const Tensor u8 = Tensor::ones({2}, DType::u8), b = Tensor::ones({2}, DType::boolean);
  const Tensor bf = Tensor::ones({2}, DType::bf16);
  EXPECT_EQ(f32.add(f64).dtype(), DType::f64);
  EXPECT_EQ(i32.add(f32).dtype(), DType::f32);
  EXPECT_EQ(i32.add(i64).dtype(), DType::i64);
  EXPECT_EQ(u8.add(i32).dtype(), DType::i32);
  EXPECT_EQ(b.add(u8).dtype(), DType::u8);
  EXPECT_EQ(bf.add(f32).dtype(), DType::f32);
  EXPECT_EQ(bf.add(i64).dtype(), DType::bf16);
  EXPECT_EQ(bf.mul(bf).dtype(), DType::bf16);
  // A 0-d tensor does not widen a dimensioned one of the same kind...
  EXPECT_EQ(f32.add(Tensor::scalar(2.0, DType::f64)).dtype(), DType::f32);
  EXPECT_EQ(i32.add(Tensor::scalar(2.0, DType::i64)).dtype(), DType::i32);
  // ...but does one of a lower kind.
  EXPECT_EQ(i32.add(Tensor::scalar(2.5, DType::f64)).dtype(), DType::f64);
  // A double never widens a floating tensor; an integral one keeps integers; else f32.
  EXPECT_EQ(f32.add(1e300).dtype(), DType::f32);
  EXPECT_EQ(bf.mul(2.0).dtype(), DType::bf16);
  EXPECT_EQ(i32.add(2.0).dtype(), DType::i32);
  EXPECT_EQ(i64.mul(3.0).dtype(), DType::i64);
  EXPECT_EQ(i32.add(2.5).dtype(), DType::f32);
  EXPECT_EQ(i64.div(2.0).dtype(), DType::f32);
  EXPECT_EQ(u8.pow(0.5).dtype(), DType::f32);
  expect_close(i32.add(2.5), {3.5, 3.5}, DType::f32, "int + fractional");
  EXPECT_THROW(i32.add(1e10), ValueError);  // does not fit i32
  EXPECT_THROW(u8.add(-1.0), ValueError);
}

TEST(ElementwiseBinary, Bf16ComputesInF32AndRoundsOnce) {
  const std::vector<float> x = {1.0f, 1.5f, -2.25f, 3.0e3f, 0.0078125f};
  const std::vector<float> y = {0.00390625f, 2.5f, 0.5f, 7.0f, 3.0f};
  const Tensor a = Tensor::from_vector(x, {5}).to(DType::bf16), b = Tensor::from_vector(y, {5}).to(DType::bf16);
  const Tensor r = a.mul(b).add(a);
  ASSERT_EQ(r.dtype(), DType::bf16);
  const auto av = a.to_vector<float>(), bv = b.to_vector<float>(), rv = r.to_vector<float>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float prod = static_cast<float>(bf16(av[i] * bv[i]));  // each op rounds to bf16 once
    EXPECT_EQ(rv[i], static_cast<float>(bf16(prod + av[i]))) << i;
  }
}

TEST(ElementwiseBinary, NaNPropagatesThroughMaximumAndMinimum) {
  const double nan = std::nan("");
  const Tensor a = Tensor::from_vector<double>({nan, 1.0, nan, -0.5}, {4});
  const Tensor b = Tensor::from_vector<double>({1.0, nan, nan, 2.0}, {4});
  for (DType dtype : {DType::f32, DType::f64}) {
    const auto mx = a.to(dtype).maximum(b.to(dtype)).to_vector<double>();
    const auto mn = a.to(dtype).minimum(b.to(dtype)).to_vector<double>();
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(std::isnan(mx[static_cast<std::size_t>(i)])) << i;
      EXPECT_TRUE(std::isnan(mn[static_cast<std::size_t>(i)])) << i;
    }
    EXPECT_EQ(mx[3], 2.0);
    EXPECT_EQ(mn[3], -0.5);
  }
}

TEST(ElementwiseBinary, EmptyAndZeroDimTensors) {
  const Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(e.add(Tensor::ones({3})).shape(), Shape({0, 3}));
  const Tensor s = Tensor::scalar(2.0).mul(Tensor::scalar(4.0));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 8.0f);
}

}  // namespace
}  // namespace dm
