// Gradients at the edges: empty and 0-d inputs, equal values, the losing side of a selection
// and powers at base 0. The expected values are torch's (its derivative formulas, worked out by
// hand in the comments); tests/ops/test_torch_edge_fixtures.cpp checks the same classes against
// files that torch itself wrote.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Spelled out: a bare {0} would pick var(correction)/std(correction) over the dims overload.
using Dims = std::vector<std::int64_t>;

dm::Tensor leaf(const std::vector<double>& v, const dm::Shape& shape) {
  auto t = dm::Tensor::from_vector(v, shape);
  t.set_requires_grad();
  return t;
}

dm::Tensor leaf(const std::vector<double>& v) { return leaf(v, dm::Shape{static_cast<std::int64_t>(v.size())}); }

dm::Tensor scalar_leaf(double v) {
  auto t = dm::Tensor::scalar(v, dm::DType::f64);
  t.set_requires_grad();
  return t;
}

// The gradient of `out` (backward with all-ones, or `g`) with respect to `x`.
dm::Tensor grad_of(const dm::Tensor& out, const dm::Tensor& x, const dm::Tensor& g = dm::Tensor()) {
  const dm::Tensor seed = g.defined() ? g : dm::Tensor::ones(out.shape(), out.dtype());
  return dm::autograd::grad(out, {x}, seed)[0];
}

// ---- reductions of an empty tensor stay in the graph ---------------------------------------

TEST(EdgeGrads, EmptyReductionsReachTheInputWithAnEmptyGradient) {
  const dm::Shape empty{0, 3};
  struct Case {
    const char* name;
    dm::Tensor (*reduce)(const dm::Tensor&);
  };
  const Case cases[] = {
      {"sum", [](const dm::Tensor& x) { return x.sum(); }},
      {"sum(0)", [](const dm::Tensor& x) { return x.sum(Dims{0}); }},
      {"mean", [](const dm::Tensor& x) { return x.mean(); }},
      {"mean(0)", [](const dm::Tensor& x) { return x.mean(Dims{0}); }},
      {"var(0)", [](const dm::Tensor& x) { return x.var(Dims{0}); }},
      {"std(0)", [](const dm::Tensor& x) { return x.std(Dims{0}); }},
      {"std(1)", [](const dm::Tensor& x) { return x.std(Dims{1}, 1, true); }},
      {"logsumexp(0)", [](const dm::Tensor& x) { return x.logsumexp(0); }},
      {"logsumexp(1)", [](const dm::Tensor& x) { return x.logsumexp(1); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto x = dm::Tensor::zeros(empty, dm::DType::f64);
    x.set_requires_grad();
    const dm::Tensor out = c.reduce(x);
    ASSERT_TRUE(out.requires_grad());
    const dm::Tensor g = grad_of(out, x);
    EXPECT_EQ(g.shape(), empty);
    EXPECT_EQ(g.dtype(), dm::DType::f64);
    // And backward() itself, which used to throw "does not require grad".
    if (out.numel() == 1) {
      out.backward();
      EXPECT_EQ(x.grad().shape(), empty);
    }
  }
}

TEST(EdgeGrads, EmptyIndexSelectStaysInTheGraph) {
  auto x = leaf({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  const dm::Tensor none = dm::Tensor::from_vector(std::vector<std::int64_t>{}, {0});
  const dm::Tensor out = x.index_select(1, none);
  ASSERT_EQ(out.shape(), (dm::Shape{2, 0}));
  ASSERT_TRUE(out.requires_grad());
  // Nothing was picked, so every element's gradient is 0.
  EXPECT_EQ(grad_of(out, x).to_vector<double>(), std::vector<double>(6, 0.0));
  out.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(6, 0.0));

  // An empty source with rows picked from a non-empty dim.
  auto e = dm::Tensor::zeros({3, 0}, dm::DType::f64);
  e.set_requires_grad();
  const dm::Tensor picked = e.index_select(0, dm::Tensor::from_vector(std::vector<std::int64_t>{2, 0, 2}, {3}));
  ASSERT_TRUE(picked.requires_grad());
  EXPECT_EQ(grad_of(picked, e).shape(), (dm::Shape{3, 0}));
}

// ---- a reduction over dim 0 of a 0-d tensor ------------------------------------------------

TEST(EdgeGrads, ReductionOverDimZeroOfAZeroDimTensor) {
  // Over a single element: sum, mean, max, logsumexp pass g through (d/dx x = 1, and the
  // softmax of one element is 1); var with correction 0 is constant 0.
  struct Case {
    const char* name;
    dm::Tensor (*reduce)(const dm::Tensor&);
    double want;
  };
  const Case cases[] = {
      {"sum({0})", [](const dm::Tensor& x) { return x.sum(Dims{0}); }, 1.0},
      {"sum({-1}, keepdim)", [](const dm::Tensor& x) { return x.sum(Dims{-1}, true); }, 1.0},
      {"mean({0})", [](const dm::Tensor& x) { return x.mean(Dims{0}); }, 1.0},
      {"max(0)", [](const dm::Tensor& x) { return x.max(0); }, 1.0},
      {"min(0, keepdim)", [](const dm::Tensor& x) { return x.min(0, true); }, 1.0},
      {"logsumexp(0)", [](const dm::Tensor& x) { return x.logsumexp(0); }, 1.0},
      {"var({0}, 0)", [](const dm::Tensor& x) { return x.var(Dims{0}, 0); }, 0.0},
      {"std({0}, 0)", [](const dm::Tensor& x) { return x.std(Dims{0}, 0); }, 0.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto x = scalar_leaf(3.0);
    const dm::Tensor out = c.reduce(x);
    ASSERT_EQ(out.dim(), 0);
    out.backward();
    ASSERT_EQ(x.grad().dim(), 0);
    EXPECT_EQ(x.grad().item<double>(), c.want);
  }
  // std with the default correction divides by n - 1 = 0: the value is NaN and so is torch's
  // gradient; what matters is that backward runs.
  auto x = scalar_leaf(3.0);
  x.std(Dims{0}).backward();
  EXPECT_TRUE(std::isnan(x.grad().item<double>()));
}

// ---- std of equal values -------------------------------------------------------------------

TEST(EdgeGrads, StdOfEqualValuesHasZeroGradient) {
  auto x = leaf({2.0, 2.0, 2.0, 5.0, 1.0, 3.0}, {2, 3});
  // Row 0 is constant (std 0): gradient 0 there, even for an infinite upstream gradient. Row 1
  // is {5, 1, 3}: mean 3, std 2, so d std / dx = (x - mean) / ((n - 1) std) = {0.5, -0.5, 0}.
  const dm::Tensor g = grad_of(x.std(Dims{1}), x, dm::Tensor::from_vector(std::vector<double>{kInf, 1.0}));
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{0.0, 0.0, 0.0, 0.5, -0.5, 0.0}));
  auto y = leaf({7.0, 7.0, 7.0, 7.0});
  y.std().backward();
  EXPECT_EQ(y.grad().to_vector<double>(), std::vector<double>(4, 0.0));
}

// ---- selections: the losing branch gets exactly 0 ------------------------------------------

TEST(EdgeGrads, MinimumSelectsSoAnInfiniteGradientStaysOnTheWinner) {
  // 1 / minimum(a, b) at a = 1, b = 0: the minimum is b, d/db (1/b) = -1/b^2 = -inf; a lost.
  auto a = leaf({1.0});
  auto b = leaf({0.0});
  (1.0 / a.minimum(b)).sum().backward();
  EXPECT_EQ(a.grad().item<double>(), 0.0);
  EXPECT_EQ(b.grad().item<double>(), -kInf);
}

TEST(EdgeGrads, MaximumAndMinimumShareAsTorchDoes) {
  // Per element: a wins, b wins, tie (half each), NaN in a, NaN in b. A NaN compares unequal,
  // so neither side "wins" and both get all of g (torch's masked_fill rule).
  const std::vector<double> av{3.0, 1.0, 2.0, kNaN, 1.0}, bv{1.0, 3.0, 2.0, 1.0, kNaN};
  const dm::Tensor g = dm::Tensor::from_vector(std::vector<double>{kInf, kInf, 4.0, 1.0, 1.0});
  for (bool is_max : {true, false}) {
    SCOPED_TRACE(is_max ? "maximum" : "minimum");
    auto a = leaf(av), b = leaf(bv);
    const dm::Tensor out = is_max ? a.maximum(b) : a.minimum(b);
    const auto grads = dm::autograd::grad(out, {a, b}, g);
    // maximum: a wins element 0; minimum: b wins element 0 (and the other way at element 1).
    const std::vector<double> winner_a{kInf, 0.0, 2.0, 1.0, 1.0}, winner_b{0.0, kInf, 2.0, 1.0, 1.0};
    EXPECT_EQ(grads[0].to_vector<double>(), is_max ? winner_a : winner_b);
    EXPECT_EQ(grads[1].to_vector<double>(), is_max ? winner_b : winner_a);
  }
}

TEST(EdgeGrads, ClampSelectsTheGradientInsideItsBounds) {
  auto x = leaf({-2.0, -1.0, 0.0, 1.0, 2.0, kNaN});
  const dm::Tensor g = dm::Tensor::full({6}, kInf, dm::DType::f64);
  // Inside [-1, 1], bounds included: g; outside and at NaN: exactly 0, not inf * 0.
  EXPECT_EQ(grad_of(x.clamp(-1.0, 1.0), x, g).to_vector<double>(),
            (std::vector<double>{0.0, kInf, kInf, kInf, 0.0, 0.0}));
  // A NaN bound admits nothing.
  EXPECT_EQ(grad_of(x.clamp(kNaN, 1.0), x).to_vector<double>(), std::vector<double>(6, 0.0));
  EXPECT_EQ(grad_of(x.clamp(-1.0, kNaN), x).to_vector<double>(), std::vector<double>(6, 0.0));
}

TEST(EdgeGrads, ReluSelectsAndPassesTheGradientAtNaN) {
  // torch's threshold_backward: 0 where relu(x) <= 0, else g. NaN <= 0 is false, so a NaN
  // element gets g; an inactive one gets exactly 0 even for an infinite g.
  auto x = leaf({-1.0, 0.0, 2.0, kNaN});
  const dm::Tensor g = dm::Tensor::full({4}, kInf, dm::DType::f64);
  EXPECT_EQ(grad_of(x.relu(), x, g).to_vector<double>(), (std::vector<double>{0.0, 0.0, kInf, kInf}));
}

// gelu at -inf takes its limits, value 0 and gradient 0 (torch: NaN for both; a deliberate
// difference, docs/differences.md).
TEST(EdgeGrads, GeluAtMinusInfinityTakesItsLimit) {
  auto x = leaf({-kInf, -50.0});
  const dm::Tensor y = x.gelu();
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(grad_of(y, x).to_vector<double>(), (std::vector<double>{0.0, 0.0}));
}

// ---- pow at base 0 -------------------------------------------------------------------------

TEST(EdgeGrads, PowToTheZeroHasNoGradient) {
  auto x = leaf({0.0, 1.0, -2.0});
  // x^0 is the constant 1: 0 everywhere, including x = 0 (where 0 * 0^-1 = 0 * inf) and for
  // an infinite upstream gradient.
  EXPECT_EQ(grad_of(x.pow(0.0), x, dm::Tensor::full({3}, kInf, dm::DType::f64)).to_vector<double>(),
            std::vector<double>(3, 0.0));
  auto e = leaf({0.0, 0.0, 2.0});
  EXPECT_EQ(grad_of(x.pow(e), x).to_vector<double>(), (std::vector<double>{0.0, 0.0, -4.0}));
}

TEST(EdgeGrads, PowExponentGradientAtBaseZero) {
  // d/db a^b = a^b log a. At a = 0 torch takes 0 for b >= 0 (0^b is 0 or 1 there, and the
  // one-sided slope from b's side is 0) and keeps a^b log a = inf * -inf = -inf for b < 0.
  auto a = leaf({0.0, 0.0, 0.0, 2.0});
  auto b = leaf({0.0, 2.0, -1.0, 3.0});
  const auto grads = dm::autograd::grad(a.pow(b), {a, b}, dm::Tensor::ones({4}, dm::DType::f64));
  const std::vector<double> db = grads[1].to_vector<double>();
  EXPECT_EQ(db[0], 0.0);
  EXPECT_EQ(db[1], 0.0);
  EXPECT_EQ(db[2], -kInf);
  EXPECT_DOUBLE_EQ(db[3], 8.0 * std::log(2.0));
  // d/da a^b = b a^(b-1): 0 at b = 0, 2 * 0 = 0 at b = 2, -1 * 0^-2 = -inf, 3 * 4 = 12.
  EXPECT_EQ(grads[0].to_vector<double>(), (std::vector<double>{0.0, 0.0, -kInf, 12.0}));
}

}  // namespace
