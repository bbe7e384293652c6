// Dense (init statistics, forward), Dropout and LayerNorm.
#include <gtest/gtest.h>

#include <cmath>

#include "democratising/autograd/autograd.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/core/random.hpp"
#include "nn_test_util.hpp"

namespace {

using namespace nn_test;
namespace nn = dm::nn;

struct Moments {
  double min, max, mean, var;
};

Moments moments(const Tensor& t) {
  const auto v = t.to_vector<double>();
  Moments m{v[0], v[0], 0.0, 0.0};
  for (double x : v) {
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
    m.mean += x;
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.var += (x - m.mean) * (x - m.mean);
  m.var /= static_cast<double>(v.size());
  return m;
}

TEST(Dense, InitLikeTorchLinear) {
  dm::manual_seed(7);
  const nn::Dense layer(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  ASSERT_EQ(layer.weight().shape(), Shape({300, 400}));
  ASSERT_NE(layer.bias(), nullptr);
  ASSERT_EQ(layer.bias()->shape(), Shape({300}));
  const Moments w = moments(layer.weight());
  EXPECT_GE(w.min, -bound);
  EXPECT_LE(w.max, bound);
  EXPECT_LT(w.min, -0.99 * bound);  // the whole range is used
  EXPECT_GT(w.max, 0.99 * bound);
  // U(-a, a) has mean 0 and variance a^2 / 3; 120000 draws pin both down to well under 2%.
  EXPECT_NEAR(w.mean, 0.0, 0.01 * bound);
  EXPECT_NEAR(w.var, bound * bound / 3.0, 0.02 * bound * bound / 3.0);
  const Moments b = moments(*layer.bias());
  EXPECT_GE(b.min, -bound);
  EXPECT_LE(b.max, bound);
  EXPECT_NEAR(b.mean, 0.0, 0.15 * bound);
  EXPECT_TRUE(layer.weight().requires_grad());
  EXPECT_TRUE(layer.bias()->requires_grad());
}

TEST(Dense, SeededInitIsReproducibleAndNamed) {
  dm::manual_seed(3);
  const nn::Dense a(5, 4);
  dm::manual_seed(3);
  const nn::Dense b(5, 4);
  EXPECT_EQ(a.weight().to_vector<float>(), b.weight().to_vector<float>());
  EXPECT_EQ(a.bias()->to_vector<float>(), b.bias()->to_vector<float>());
  EXPECT_NE(a.weight().to_vector<float>(), nn::Dense(5, 4).weight().to_vector<float>());
  EXPECT_EQ(a.name(), "Dense(5 -> 4)");
  const nn::Dense no_bias(784, 128, false, DType::f64);
  EXPECT_EQ(no_bias.name(), "Dense(784 -> 128, no bias)");
  EXPECT_EQ(no_bias.bias(), nullptr);
  EXPECT_EQ(no_bias.weight().dtype(), DType::f64);
  EXPECT_EQ(no_bias.named_parameters().size(), 1u);
  EXPECT_THROW(nn::Dense(-1, 3), dm::ValueError);
}

TEST(Dense, ForwardIsLinearAndSurvivesCopies) {
  const nn::Dense layer(6, 3);
  const nn::Dense copy = layer;  // parameters found by index, not by pointers into the original
  const Tensor x = normal({4, 6}, 1);
  const auto expected = nn::linear(x, layer.weight(), *layer.bias()).to_vector<float>();
  EXPECT_EQ(layer.forward(x).to_vector<float>(), expected);
  EXPECT_EQ(copy(x).to_vector<float>(), expected);
}

TEST(Dropout, RejectsPOutsideZeroOne) {
  EXPECT_THROW(nn::Dropout(-0.1), dm::ValueError);
  EXPECT_THROW(nn::Dropout(1.0), dm::ValueError);
  EXPECT_THROW(nn::Dropout(std::nan("")), dm::ValueError);
  EXPECT_THROW(nn::dropout(Tensor::zeros({2}), 1.5), dm::ValueError);
  EXPECT_EQ(nn::Dropout(0.25).name(), "Dropout(p=0.25)");
}

TEST(Dropout, EvalIsIdentity) {
  nn::Dropout drop(0.5);
  drop.eval();
  const Tensor x = normal({3, 5}, 2);
  EXPECT_EQ(drop(x).to_vector<float>(), x.to_vector<float>());
  const auto r = dm::autograd::gradcheck([&](const std::vector<Tensor>& in) { return drop(in[0]); }, {leaf64({3, 4}, 3)});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Dropout, TrainingMasksAndScales) {
  dm::manual_seed(11);
  const nn::Dropout drop(0.3);
  Tensor x = Tensor::ones({200, 100}, DType::f64);
  x.set_requires_grad(true);
  const Tensor y = drop(x);
  const auto yv = y.to_vector<double>();
  std::int64_t zeros = 0;
  for (double v : yv) {
    if (v == 0.0) {
      ++zeros;
    } else {
      EXPECT_DOUBLE_EQ(v, 1.0 / 0.7);
    }
  }
  // 20000 Bernoulli(0.3) draws: the fraction is within 0.02 with overwhelming probability.
  EXPECT_NEAR(static_cast<double>(zeros) / 20000.0, 0.3, 0.02);
  // The gradient is the same mask: g * keep / (1 - p).
  const auto grads = dm::autograd::grad(y, {x}, Tensor::ones({200, 100}, DType::f64));
  EXPECT_EQ(grads[0].to_vector<double>(), yv);
}

// LayerNorm over the last `d` elements of each row, biased variance, as torch.
std::vector<double> reference_layer_norm(const std::vector<double>& x, const std::vector<double>& w,
                                         const std::vector<double>& b, std::int64_t d, double eps) {
  std::vector<double> y(x.size());
  for (std::size_t r = 0; r < x.size() / d; ++r) {
    double mean = 0, var = 0;
    for (std::int64_t j = 0; j < d; ++j) mean += x[r * d + j];
    mean /= d;
    for (std::int64_t j = 0; j < d; ++j) var += (x[r * d + j] - mean) * (x[r * d + j] - mean);
    var /= d;
    for (std::int64_t j = 0; j < d; ++j) y[r * d + j] = (x[r * d + j] - mean) / std::sqrt(var + eps) * w[j] + b[j];
  }
  return y;
}

TEST(LayerNorm, ForwardMatchesLoops) {
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = normal({3, 2, 4}, 4, dtype, 2.0);
    const Tensor w = normal({2, 4}, 5, dtype), b = normal({2, 4}, 6, dtype);
    const Tensor y = nn::layer_norm(x, {2, 4}, w, b, 1e-5);
    EXPECT_EQ(y.shape(), x.shape());
    const auto expected = reference_layer_norm(x.to_vector<double>(), w.to_vector<double>(), b.to_vector<double>(), 8, 1e-5);
    expect_close(y, expected, dtype == DType::f32 ? kRtol32 : 1e-10, dtype == DType::f32 ? kAtol32 : 1e-10);
  }
}

TEST(LayerNorm, ModuleStartsAsPlainNormalisation) {
  const nn::LayerNorm norm({6});
  EXPECT_EQ(norm.name(), "LayerNorm((6,), eps=1e-05)");
  const auto params = norm.named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[1].first, "bias");
  const Tensor x = normal({4, 6}, 7);
  expect_close(norm(x), reference_layer_norm(x.to_vector<double>(), std::vector<double>(6, 1.0),
                                             std::vector<double>(6, 0.0), 6, 1e-5),
               kRtol32, kAtol32);
  EXPECT_THROW(norm(Tensor::zeros({4, 5})), dm::ShapeError);
}

TEST(LayerNorm, Gradcheck) {
  const auto affine = dm::autograd::gradcheck(
      [](const std::vector<Tensor>& in) { return nn::layer_norm(in[0], {3, 2}, in[1], in[2]); },
      {leaf64({2, 3, 2}, 8), leaf64({3, 2}, 9), leaf64({3, 2}, 10)});
  EXPECT_TRUE(affine.ok) << affine.message;
  const auto plain = dm::autograd::gradcheck([](const std::vector<Tensor>& in) { return nn::layer_norm(in[0], {5}); },
                                             {leaf64({3, 5}, 11)});
  EXPECT_TRUE(plain.ok) << plain.message;
}

}  // namespace
