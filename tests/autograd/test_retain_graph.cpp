// backward() spends its graph: a second pass through it would add the same gradients to
// grad() again, so it throws unless the first pass kept the graph with retain_graph.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using ::testing::HasSubstr;
using dm::Tensor;

Tensor leaf(std::vector<double> v) {
  auto t = Tensor::from_vector(v);
  t.set_requires_grad();
  return t;
}

TEST(RetainGraph, SecondBackwardThroughASpentGraphThrows) {
  auto x = leaf({1.0, 2.0, 3.0});
  auto y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  try {
    y.backward();
    FAIL() << "a second backward() went through";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("[backward]"));
    EXPECT_THAT(e.what(), HasSubstr("retain_graph"));
  }
  // The gradient is the one pass's, not twice it.
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0, 6.0}));
}

TEST(RetainGraph, RetainedGraphRunsAgainAndAccumulates) {
  auto x = leaf({1.0, 2.0, 3.0});
  auto y = (x * x).sum();
  y.backward({.retain_graph = true});
  y.backward({.retain_graph = true});
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4.0, 8.0, 12.0}));
  y.backward();  // the last pass may let the graph go...
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6.0, 12.0, 18.0}));
  EXPECT_THROW(y.backward(), dm::ValueError);  // ...after which it is spent
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6.0, 12.0, 18.0}));
}

TEST(RetainGraph, WithAGradOutputToo) {
  auto x = leaf({1.0, 2.0});
  auto y = x * 3.0;
  const Tensor g = Tensor::from_vector(std::vector<double>{1.0, 10.0});
  y.backward(g, {.retain_graph = true});
  y.backward(g);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{6.0, 60.0}));
  EXPECT_THROW(y.backward(g), dm::ValueError);
}

TEST(RetainGraph, SharedTrunkIsSpentByTheFirstLoss) {
  // Two losses over one trunk: the first backward spends the trunk, so the second needs the
  // first to have retained it; with it, each loss's gradient is added once.
  auto x = leaf({1.0, -1.0});
  {
    auto h = x * x;
    auto a = h.sum();
    auto b = (h * 3.0).sum();
    a.backward();
    EXPECT_THROW(b.backward(), dm::ValueError);
  }
  x.set_grad(Tensor());
  auto h = x * x;
  auto a = h.sum();
  auto b = (h * 3.0).sum();
  a.backward({.retain_graph = true});
  b.backward();
  // d/dx (x^2 + 3x^2) = 8x
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{8.0, -8.0}));
}

TEST(RetainGraph, AutogradGradLeavesTheGraphForBackward) {
  // grad() returns gradients and writes nowhere, so running it twice doubles nothing; it does
  // not spend the graph.
  auto w = leaf({1.0, -1.0});
  auto loss = (w * w * 2.0).sum();
  const auto g1 = dm::autograd::grad(loss, {w});
  const auto g2 = dm::autograd::grad(loss, {w});
  EXPECT_EQ(g1[0].to_vector<double>(), g2[0].to_vector<double>());
  loss.backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{4.0, -4.0}));
  EXPECT_THROW(dm::autograd::grad(loss, {w}), dm::ValueError);  // spent by backward()
}

TEST(RetainGraph, LeafBackwardHasNoGraphToSpend) {
  auto x = leaf({2.0});
  x.backward();
  x.backward();
  EXPECT_EQ(x.grad().item<double>(), 2.0);
}

}  // namespace
