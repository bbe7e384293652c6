// Adam and AdamW against the algorithm as the Adam paper and torch's docs write it.
#include <gtest/gtest.h>

#include <cmath>

#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;
using dm::optim::Adam;
using dm::optim::AdamOptions;
using dm::optim::AdamW;

/// One parameter's Adam state, with its own step count as torch keeps it.
template <class T>
struct ReferenceAdamSlot {
  std::vector<T> m, v;
  int t = 0;
};

/// torch's documented Adam/AdamW in double, rounding the scalars to T like torch does.
template <class T>
void reference_adam_step(const AdamOptions& o, bool decoupled, std::vector<T>& p, const std::vector<T>& grad,
                         ReferenceAdamSlot<T>& s) {
  if (s.m.empty()) s.m.assign(p.size(), T(0)), s.v.assign(p.size(), T(0));
  s.t += 1;
  const T step_size = static_cast<T>(o.lr / (1 - std::pow(o.beta1, s.t)));
  const T correction2 = static_cast<T>(std::sqrt(1 - std::pow(o.beta2, s.t)));
  for (std::size_t j = 0; j < p.size(); ++j) {
    T g = grad[j];
    if (decoupled) p[j] *= static_cast<T>(1 - o.lr * o.weight_decay);
    else if (o.weight_decay != 0) g += static_cast<T>(o.weight_decay) * p[j];
    s.m[j] = s.m[j] * static_cast<T>(o.beta1) + static_cast<T>(1 - o.beta1) * g;
    s.v[j] = s.v[j] * static_cast<T>(o.beta2) + static_cast<T>(1 - o.beta2) * g * g;
    const T m_hat_scaled = step_size * s.m[j];
    p[j] -= m_hat_scaled / (std::sqrt(s.v[j]) / correction2 + static_cast<T>(o.eps));
  }
}

struct AdamConfig {
  AdamOptions options;
  bool decoupled;
};

const std::vector<AdamConfig> kConfigs = {
    {{.lr = 1e-2}, false},
    {{.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1}, false},
    {{.lr = 1e-2, .weight_decay = 0.05}, true},
    {{.lr = 3e-3, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-4, .weight_decay = 0.2}, true},
};

template <class T>
class AdamTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AdamTyped, FloatTypes);

TYPED_TEST(AdamTyped, MatchesReferenceOverSteps) {
  using T = TypeParam;
  const auto shapes = small_net();
  const std::int64_t n = total_numel(shapes);
  for (std::size_t c = 0; c < kConfigs.size(); ++c) {
    SCOPED_TRACE("config " + std::to_string(c));
    const auto& cfg = kConfigs[c];
    FlatSet params = make_flat(shapes, random_values<T>(n, 1));
    std::vector<std::vector<T>> ref;
    for (const auto& [name, t] : params.named) ref.push_back(t.template to_vector<T>());
    std::vector<ReferenceAdamSlot<T>> slots(shapes.size());
    Adam adam(cfg.options, cfg.decoupled);
    adam.bind(params.named);
    for (int step = 0; step < 8; ++step) {
      FlatSet grads = make_flat(shapes, random_values<T>(n, 100 + static_cast<std::uint64_t>(step)));
      std::vector<Tensor> g = grads.tensors();
      if (step == 4) g[3] = Tensor();  // "2.bias" skips a step: its bias correction lags behind
      adam.step(g);
      for (std::size_t k = 0; k < ref.size(); ++k)
        if (g[k].defined()) reference_adam_step(cfg.options, cfg.decoupled, ref[k], g[k].template to_vector<T>(), slots[k]);
      std::vector<double> want;
      for (const auto& r : ref) want.insert(want.end(), r.begin(), r.end());
      expect_close(params.flat.to_vector<T>(), want, "step " + std::to_string(step));
    }
    // The moments too, through state().
    const auto state = adam.state();
    ASSERT_EQ(state[0].first, "step");
    EXPECT_EQ(state[0].second.to_vector<std::int64_t>(), (std::vector<std::int64_t>{8, 8, 8, 7}));
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      ASSERT_EQ(state[1 + 2 * k].first, "exp_avg." + shapes[k].first);
      ASSERT_EQ(state[2 + 2 * k].first, "exp_avg_sq." + shapes[k].first);
      expect_close(state[1 + 2 * k].second.to_vector<T>(), std::vector<double>(slots[k].m.begin(), slots[k].m.end()), "m");
      expect_close(state[2 + 2 * k].second.to_vector<T>(), std::vector<double>(slots[k].v.begin(), slots[k].v.end()), "v");
    }
  }
}

TYPED_TEST(AdamTyped, FusedEqualsPerParameterBitwise) {
  using T = TypeParam;
  const auto shapes = small_net();
  const std::int64_t n = total_numel(shapes);
  const auto init = random_values<T>(n, 7);
  for (const auto& cfg : kConfigs) {
    FlatSet flat = make_flat(shapes, init);
    auto separate = make_separate(shapes, init);
    auto strided = make_strided(shapes, init);
    Adam a(cfg.options, cfg.decoupled), b(cfg.options, cfg.decoupled), c(cfg.options, cfg.decoupled);
    a.bind(flat.named);
    b.bind(separate);
    c.bind(strided);
    for (int step = 0; step < 4; ++step) {
      const auto gv = random_values<T>(n, 50 + static_cast<std::uint64_t>(step));
      a.step(make_flat(shapes, gv).tensors());
      std::vector<Tensor> g;
      for (auto& [name, t] : make_separate(shapes, gv)) g.push_back(t);
      b.step(g);
      c.step(g);
    }
    const auto fused = flat.flat.to_vector<T>();
    EXPECT_TRUE(bitwise_equal(fused, values_of<T>(separate)));
    EXPECT_TRUE(bitwise_equal(fused, values_of<T>(strided)));
    EXPECT_TRUE(bitwise_equal(values_of<T>(a.state()), values_of<T>(b.state())));
  }
}

TEST(Adam, AdamWDefaultsAndNames) {
  AdamW w;
  EXPECT_EQ(w.name(), "adamw");
  EXPECT_DOUBLE_EQ(w.lr(), 1e-3);
  Adam a;
  EXPECT_EQ(a.name(), "adam");
  // AdamW's default decay of 0.01 shrinks a parameter with a zero gradient; Adam's default does not.
  Tensor pw = Tensor::full({3}, 2.0), pa = Tensor::full({3}, 2.0);
  w.bind({{"p", pw}});
  a.bind({{"p", pa}});
  w.step({Tensor::zeros({3})});
  a.step({Tensor::zeros({3})});
  EXPECT_EQ(pa.to_vector<float>(), (std::vector<float>{2, 2, 2}));
  EXPECT_FLOAT_EQ(pw.to_vector<float>()[0], 2.0f * static_cast<float>(1 - 1e-3 * 0.01));
}

TEST(Adam, RejectsBadOptions) {
  EXPECT_THROW(Adam({.lr = -1.0}), dm::ValueError);
  EXPECT_THROW(Adam({.lr = 1e-3, .beta1 = 1.0}), dm::ValueError);
  EXPECT_THROW(Adam({.lr = 1e-3, .beta2 = -0.1}), dm::ValueError);
  EXPECT_THROW(Adam({.lr = 1e-3, .eps = -1.0}), dm::ValueError);
  EXPECT_THROW(AdamW({.lr = 1e-3, .weight_decay = -0.01}), dm::ValueError);
}

}  // namespace
