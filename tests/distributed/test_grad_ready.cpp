// autograd::grad's "gradient ready" callback, which the data-parallel trainer relies on to
// start communication early: each input reported once, with the same gradient grad() gives,
// and only once nothing left in the pass can add to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/core/random.hpp"

namespace dm {
namespace {

std::vector<Tensor> leaves(const std::vector<Shape>& shapes) {
  std::vector<Tensor> out;
  for (const Shape& s : shapes) {
    Tensor t = Tensor::randn(s, DType::f64);
    t.set_requires_grad();
    out.push_back(t);
  }
  return out;
}

TEST(GradReady, ReportsEveryInputOnceWithTheGradientGradGives) {
  manual_seed(11);
  // Three dense layers: w0 b0 w1 b1 w2 b2.
  std::vector<Tensor> p = leaves({{8, 5}, {8}, {6, 8}, {6}, {3, 6}, {3}});
  const Tensor x = Tensor::randn(Shape{4, 5}, DType::f64);
  auto loss_of = [&] {
    Tensor h = x.matmul(p[0].t()).add(p[1]).relu();
    h = h.matmul(p[2].t()).add(p[3]).tanh();
    return h.matmul(p[4].t()).add(p[5]).pow(2.0).sum();
  };
  const std::vector<Tensor> reference = autograd::grad(loss_of(), p);
  std::vector<int> times(p.size(), 0);
  std::vector<std::size_t> order;
  const std::vector<Tensor> result = autograd::grad(loss_of(), p, [&](std::size_t i, const Tensor& g) {
    times[i]++;
    order.push_back(i);
    EXPECT_EQ(g.to_vector<double>(), reference[i].to_vector<double>()) << "input " << i;
  });
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(times[i], 1) << "input " << i;
    EXPECT_EQ(result[i].to_vector<double>(), reference[i].to_vector<double>());
  }
  // The last layer's gradients are final before the first layer's: that is what lets the
  // last layers' communication overlap the rest of backward.
  auto position = [&](std::size_t i) { return std::find(order.begin(), order.end(), i) - order.begin(); };
  EXPECT_LT(position(4), position(0));
  EXPECT_LT(position(5), position(1));
}

TEST(GradReady, AnInputUsedTwiceIsReportedAfterBothUses) {
  std::vector<Tensor> p = leaves({{3}, {3}});
  const Tensor x = Tensor::randn(Shape{3}, DType::f64);
  // w feeds the loss early (directly) and late (through a longer chain).
  auto loss_of = [&] { return p[0].mul(x).sum().add(p[0].mul(p[1]).exp().mul(p[0]).sum()); };
  const std::vector<Tensor> reference = autograd::grad(loss_of(), p);
  int reports = 0;
  autograd::grad(loss_of(), p, [&](std::size_t i, const Tensor& g) {
    ++reports;
    EXPECT_EQ(g.to_vector<double>(), reference[i].to_vector<double>()) << "input " << i;
  });
  EXPECT_EQ(reports, 2);
}

TEST(GradReady, AnUnusedInputIsReportedWithZeros) {
  std::vector<Tensor> p = leaves({{2}, {4}});
  std::vector<bool> seen(2, false);
  autograd::grad(p[0].pow(2.0).sum(), p, [&](std::size_t i, const Tensor& g) {
    seen[i] = true;
    if (i == 1) {
      EXPECT_EQ(g.to_vector<double>(), std::vector<double>(4, 0.0));
    }
  });
  EXPECT_TRUE(seen[0]);
  EXPECT_TRUE(seen[1]);
}

}  // namespace
}  // namespace dm
