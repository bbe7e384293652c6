// Unary maths against the f64 libm functions: the vectorised f32 exp/tanh/sigmoid/gelu over
// their whole range (special values included), f64, integers, strided and broadcast inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

using Ref = std::function<double(double)>;

// PyTorch's default tolerances: f32 rtol 1.3e-6 / atol 1e-5, f64 rtol 1e-12 (atol 1e-12).
void expect_close(const Tensor& got, const std::vector<double>& want, DType dtype, const std::string& what) {
  const double rtol = dtype == DType::f64 ? 1e-12 : 1.3e-6, atol = dtype == DType::f64 ? 1e-12 : 1e-5;
  const auto g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  int failures = 0;
  for (std::size_t i = 0; i < g.size() && failures < 10; ++i) {
    // An f32 result is the f64 value rounded to f32 (which overflows to inf past FLT_MAX).
    const double w = dtype == DType::f32 ? static_cast<double>(static_cast<float>(want[i])) : want[i];
    bool ok;
    if (std::isnan(w)) ok = std::isnan(g[i]);
    else if (std::isinf(w)) ok = g[i] == w;
    else ok = std::abs(g[i] - w) <= atol + rtol * std::abs(w);
    if (!ok) ++failures;
    EXPECT_TRUE(ok) << what << " at " << i << ": got " << g[i] << ", want " << w;
  }
}

std::vector<double> map(const Tensor& t, const Ref& f) {
  std::vector<double> r;
  for (double x : t.to_vector<double>()) r.push_back(f(x));
  return r;
}

double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// A dense sweep of [lo, hi] plus the values where approximations tend to break.
Tensor sweep(double lo, double hi, DType dtype) {
  std::vector<double> v;
  for (double x = lo; x <= hi; x += (hi - lo) / 20011.0) v.push_back(x);
  const double inf = std::numeric_limits<double>::infinity();
  for (double x : {0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 0.625, -0.625, 0.7071, -0.7071, 1.0, -1.0,
                   1.4142, -1.4142, 88.0, 88.72, 89.0, -87.3, -88.0, -103.0, -104.0, -200.0, 200.0, inf, -inf,
                   std::nan("")})
    v.push_back(x);
  return Tensor::from_vector(v).to(dtype);
}

TEST(ElementwiseUnary, TranscendentalsMatchLibmOverTheirRange) {
  struct Case {
    const char* name;
    std::function<Tensor(const Tensor&)> op;
    Ref ref;
    double lo, hi;
  };
  const std::vector<Case> cases = {
      {"exp", [](const Tensor& t) { return t.exp(); }, [](double x) { return std::exp(x); }, -110.0, 90.0},
      {"sigmoid", [](const Tensor& t) { return t.sigmoid(); }, sigmoid_ref, -110.0, 110.0},
      {"tanh", [](const Tensor& t) { return t.tanh(); }, [](double x) { return std::tanh(x); }, -12.0, 12.0},
      {"gelu", [](const Tensor& t) { return t.gelu(); }, gelu_ref, -16.0, 16.0},
      {"log", [](const Tensor& t) { return t.log(); }, [](double x) { return std::log(x); }, 1e-6, 1e6},
      {"sqrt", [](const Tensor& t) { return t.sqrt(); }, [](double x) { return std::sqrt(x); }, 0.0, 1e6},
  };
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const auto& c : cases) {
      const Tensor x = sweep(c.lo, c.hi, dtype);
      const Tensor y = c.op(x);
      EXPECT_EQ(y.dtype(), dtype);
      std::vector<double> want = map(x, c.ref);
      // gelu(-inf) is its limit 0 (see docs/differences.md); the closed form gives -inf * 0.
      if (std::string(c.name) == "gelu")
        for (std::size_t i = 0; i < want.size(); ++i)
          if (std::isnan(want[i]) && x.to_vector<double>()[i] < 0) want[i] = 0.0;
      expect_close(y, want, dtype, std::string(c.name) + " " + std::string(dtype_name(dtype)));
    }
  }
}

TEST(ElementwiseUnary, TanhIsAccurateNearZeroInRelativeTerms) {
  // 1 - 2/(e^2x + 1) would lose every digit here; the small-|x| polynomial must not.
  std::vector<float> v;
  for (float x = 1e-6f; x < 0.7f; x *= 1.05f) {
    v.push_back(x);
    v.push_back(-x);
  }
  const Tensor t = Tensor::from_vector(v);
  const auto got = t.tanh().to_vector<double>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double want = std::tanh(static_cast<double>(v[i]));
    EXPECT_NEAR(got[i], want, 4e-7 * std::abs(want)) << v[i];  // a few f32 ulp
  }
}

TEST(ElementwiseUnary, SimpleOpsMatchNaiveLoops) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-5.0, 5.0);
  std::vector<double> v(1003);
  for (auto& x : v) x = dist(rng);
  v[0] = -0.0;
  v[1] = std::nan("");
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor t = Tensor::from_vector(v).to(dtype);
    expect_close(t.neg(), map(t, [](double x) { return -x; }), dtype, "neg");
    expect_close(t.abs(), map(t, [](double x) { return std::fabs(x); }), dtype, "abs");
    expect_close(t.relu(), map(t, [](double x) { return std::isnan(x) ? x : (x < 0 ? 0.0 : x); }), dtype, "relu");
    expect_close(t.clamp(-1.5, 2.25), map(t, [](double x) { return std::isnan(x) ? x : std::min(std::max(x, -1.5), 2.25); }),
                 dtype, "clamp");
    expect_close(t.clamp(3.0, 1.0), map(t, [](double x) { return std::isnan(x) ? x : 1.0; }), dtype, "clamp lo>hi");
  }
}

TEST(ElementwiseUnary, IntegerInputs) {
  const Tensor i = Tensor::from_vector<std::int32_t>({-3, 0, 4, -2147483647 - 1, 9}, {5});
  EXPECT_EQ(i.neg().to_vector<std::int32_t>(), (std::vector<std::int32_t>{3, 0, -4, -2147483647 - 1, -9}));
  EXPECT_EQ(i.abs().to_vector<std::int32_t>(), (std::vector<std::int32_t>{3, 0, 4, -2147483647 - 1, 9}));
  EXPECT_EQ(i.relu().to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 0, 4, 0, 9}));
  EXPECT_EQ(i.clamp(-2, 5).dtype(), DType::i32);
  EXPECT_EQ(i.clamp(-2, 5).to_vector<std::int32_t>(), (std::vector<std::int32_t>{-2, 0, 4, -2, 5}));
  // Bounds beyond the dtype saturate instead of wrapping.
  EXPECT_EQ(i.clamp(-1e12, 1e12).to_vector<std::int32_t>(), i.to_vector<std::int32_t>());
  // Fractional bounds and transcendental functions give f32, as in PyTorch.
  EXPECT_EQ(i.clamp(-0.5, 2.5).dtype(), DType::f32);
  EXPECT_EQ(i.clamp(-0.5, 2.5).to_vector<float>(), (std::vector<float>{-0.5f, 0.0f, 2.5f, -0.5f, 2.5f}));
  const Tensor e = i.exp();
  EXPECT_EQ(e.dtype(), DType::f32);
  expect_close(e, map(i, [](double x) { return std::exp(x); }), DType::f32, "exp(int)");
  const Tensor u = Tensor::from_vector<std::uint8_t>({0, 1, 200}, {3});
  EXPECT_EQ(u.neg().to_vector<std::int32_t>(), (std::vector<std::int32_t>{0, 255, 56}));  // wraps like uint8
  EXPECT_EQ(u.sqrt().dtype(), DType::f32);
  const Tensor b = Tensor::from_vector<bool>({true, false}, {2});
  EXPECT_THROW((void)b.neg(), DTypeError);
  EXPECT_EQ(b.abs().to_vector<bool>(), (std::vector<bool>{true, false}));
}

TEST(ElementwiseUnary, StridedAndBroadcastInputs) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<double> dist(-3.0, 3.0);
  std::vector<double> v(6 * 9);
  for (auto& x : v) x = dist(rng);
  for (DType dtype : {DType::f32, DType::f64, DType::bf16}) {
    const Tensor base = Tensor::from_vector(v, {6, 9}).to(dtype);
    const Tensor transposed = make_view(base, {9, 6}, {1, 9}, 0);
    const Tensor row_broadcast = make_view(base, {4, 9}, {0, 1}, 9);  // row 1 repeated 4 times
    for (const Tensor& x : {transposed, row_broadcast}) {
      const Tensor y = x.tanh();
      EXPECT_EQ(y.shape(), x.shape());
      EXPECT_EQ(y.dtype(), dtype);
      EXPECT_TRUE(y.is_contiguous());
      // bf16 rounds the result to 8 bits of mantissa: half an ulp is 2^-9 relative.
      const DType tol_dtype = dtype == DType::bf16 ? DType::f32 : dtype;
      auto want = map(x, [](double a) { return std::tanh(a); });
      if (dtype == DType::bf16) {
        const auto g = y.to_vector<double>();
        for (std::size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], want[i], std::abs(want[i]) * 0x1p-8) << i;
      } else {
        expect_close(y, want, tol_dtype, "tanh strided");
      }
    }
  }
}

TEST(ElementwiseUnary, UndefinedAndZeroSizedTensors) {
  EXPECT_THROW((void)Tensor().exp(), ValueError);
  const Tensor empty = Tensor::zeros({3, 0});
  EXPECT_EQ(empty.sigmoid().shape(), Shape({3, 0}));
  EXPECT_EQ(Tensor::scalar(0.0).sigmoid().item<float>(), 0.5f);
}

}  // namespace
}  // namespace dm
