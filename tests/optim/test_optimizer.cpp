// The base class: step() from accumulated gradients, zero_grad, binding, make_optimizer.
#include <gtest/gtest.h>

#include "democratising/base/error.hpp"
#include "democratising/optim/optimizer.hpp"
#include "optim_test_util.hpp"

namespace {

using namespace optim_test;

TEST(Optimizer, StepUsesAccumulatedGrads) {
  const auto shapes = small_net();
  const std::int64_t n = total_numel(shapes);
  const auto init = random_values<float>(n, 4);
  const auto gv = random_values<float>(n, 5);
  FlatSet a = make_flat(shapes, init), b = make_flat(shapes, init);
  FlatSet grads = make_flat(shapes, gv);
  dm::optim::SGD explicit_grads({.lr = 0.1, .momentum = 0.9}), accumulated({.lr = 0.1, .momentum = 0.9});
  explicit_grads.bind(a.named);
  accumulated.bind(b.named);
  std::vector<Tensor> g = grads.tensors();
  g[2] = Tensor();  // "2.weight" has no gradient
  for (std::size_t i = 0; i < b.named.size(); ++i) b.named[i].second.set_grad(g[i]);
  explicit_grads.step(g);
  accumulated.step();
  EXPECT_TRUE(bitwise_equal(a.flat.to_vector<float>(), b.flat.to_vector<float>()));
  // The parameter without a gradient kept its values.
  const auto w2 = b.named[2].second.to_vector<float>();
  EXPECT_TRUE(bitwise_equal(w2, make_flat(shapes, init).named[2].second.to_vector<float>()));
}

TEST(Optimizer, ZeroGradClearsGrads) {
  Tensor w = Tensor::ones({2, 2}).set_requires_grad();
  Tensor b = Tensor::ones({2}).set_requires_grad();
  dm::optim::SGD sgd({.lr = 0.1});
  sgd.bind({{"w", w}, {"b", b}});
  w.set_grad(Tensor::ones({2, 2}));
  b.set_grad(Tensor::ones({2}));
  sgd.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  sgd.step();  // nothing to do: no gradients
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
}

TEST(Optimizer, BindResetsStateAndChecksParameters) {
  Tensor w = Tensor::zeros({3});
  dm::optim::SGD sgd({.lr = 1.0, .momentum = 0.5});
  sgd.bind({{"w", w}});
  sgd.step({Tensor::ones({3})});
  EXPECT_EQ(sgd.steps(), 1);
  sgd.bind({{"w", w}});
  EXPECT_EQ(sgd.steps(), 0);
  EXPECT_EQ(sgd.state()[1].second.to_vector<float>(), (std::vector<float>{0, 0, 0}));
  EXPECT_THROW(sgd.bind({{"w", Tensor()}}), dm::ValueError);
  EXPECT_THROW(sgd.bind({{"i", Tensor::zeros({2}, DType::i64)}}), dm::DTypeError);
  EXPECT_THROW(sgd.bind({{"w", w}, {"w", Tensor::zeros({2})}}), dm::ValueError);
}

TEST(Optimizer, SetLrTakesEffectOnNextStep) {
  Tensor w = Tensor::zeros({2}, DType::f64);
  dm::optim::SGD sgd({.lr = 1.0});
  sgd.bind({{"w", w}});
  sgd.step({Tensor::ones({2}, DType::f64)});
  sgd.set_lr(0.25);
  sgd.step({Tensor::ones({2}, DType::f64)});
  EXPECT_EQ(w.to_vector<double>(), (std::vector<double>{-1.25, -1.25}));
}

TEST(MakeOptimizer, ByName) {
  auto sgd = dm::optim::make_optimizer("sgd", 0.05, 0.9);
  EXPECT_EQ(sgd->name(), "sgd");
  EXPECT_DOUBLE_EQ(sgd->lr(), 0.05);
  const auto& options = dynamic_cast<dm::optim::SGD&>(*sgd).options();
  EXPECT_DOUBLE_EQ(options.momentum, 0.9);
  EXPECT_EQ(dm::optim::make_optimizer("adam", 1e-3)->name(), "adam");
  auto adamw = dm::optim::make_optimizer("adamw", 2e-3);
  EXPECT_EQ(adamw->name(), "adamw");
  EXPECT_DOUBLE_EQ(adamw->lr(), 2e-3);
  try {
    dm::optim::make_optimizer("rmsprop", 0.1);
    FAIL() << "expected ValueError";
  } catch (const dm::ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("rmsprop"), std::string::npos);
  }
  EXPECT_THROW(dm::optim::make_optimizer("sgd", -1.0), dm::ValueError);
}

}  // namespace
