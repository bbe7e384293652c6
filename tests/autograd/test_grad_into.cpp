// autograd::grad_into: every gradient lands in the caller's buffer, written in place by the
// node where a leaf has a single edge, and equal to what grad() returns either way.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/grad_into.hpp"
#include "autograd/record.hpp"
#include "democratising/democratising.hpp"

namespace {

dm::Tensor leaf(const dm::Tensor& t) {
  dm::Tensor l = t.clone();
  l.set_requires_grad();
  return l;
}

std::vector<float> values(const dm::Tensor& t) { return t.contiguous().to_vector<float>(); }

// A linear layer's weight and bias (single edges) plus a leaf used twice and one unused.
struct Graph {
  dm::Tensor x = dm::Tensor::randn({5, 4}, dm::DType::f32, dm::Device::cpu());
  dm::Tensor w = leaf(dm::Tensor::randn({3, 4}, dm::DType::f32, dm::Device::cpu()));
  dm::Tensor b = leaf(dm::Tensor::randn({3}, dm::DType::f32, dm::Device::cpu()));
  dm::Tensor twice = leaf(dm::Tensor::randn({3}, dm::DType::f32, dm::Device::cpu()));
  dm::Tensor unused = leaf(dm::Tensor::randn({2}, dm::DType::f32, dm::Device::cpu()));

  std::vector<dm::Tensor> inputs() const { return {w, b, twice, unused}; }
  dm::Tensor loss() const {
    const dm::Tensor y = dm::nn::linear(x, w, b).relu();
    return (y * twice + twice * twice).sum();
  }
};

TEST(GradInto, MatchesGradAndWritesTheLinearGradientsInPlace) {
  dm::manual_seed(7);
  Graph g;
  const std::vector<dm::Tensor> expected = dm::autograd::grad(g.loss(), g.inputs());
  std::vector<dm::Tensor> dst;
  std::vector<const void*> where;
  for (const dm::Tensor& in : g.inputs()) {
    dst.push_back(dm::Tensor::full(in.shape(), 123.0, dm::DType::f32, dm::Device::cpu()));  // stale values
    where.push_back(dst.back().data_ptr());
  }
  std::vector<int> reported(dst.size(), 0);
  dm::autograd::grad_into(g.loss(), g.inputs(), dst, [&](std::size_t i, const dm::Tensor& grad) {
    ++reported[i];
    EXPECT_EQ(grad.data_ptr(), where[i]) << "input " << i << " reported outside its destination";
    EXPECT_EQ(values(grad), values(expected[i])) << "input " << i;
  });
  for (std::size_t i = 0; i < dst.size(); ++i) {
    EXPECT_EQ(reported[i], 1) << "input " << i;
    EXPECT_EQ(dst[i].data_ptr(), where[i]);
    EXPECT_EQ(values(dst[i]), values(expected[i])) << "input " << i;
  }
  EXPECT_EQ(values(dst[3]), (std::vector<float>{0.0f, 0.0f}));
}

// An op recorded by hand, whose backward notes what the engine offers each of its inputs.
dm::Tensor observed_sum(const dm::Tensor& a, const dm::Tensor& b, std::vector<dm::Tensor>& offers) {
  dm::Tensor out;
  {
    dm::NoGradGuard no_grad;
    out = a + b;
  }
  dm::autograd::record(out, "observed_sum", {&a, &b}, [&offers](const dm::Tensor& g) {
    offers = {dm::autograd::gradient_destination(0), dm::autograd::gradient_destination(1)};
    return std::vector<dm::Tensor>{g, g};
  });
  return out;
}

TEST(GradInto, OnlyALeafWithASingleEdgeIsOffered) {
  const dm::Tensor once = leaf(dm::Tensor::ones({3}, dm::DType::f32, dm::Device::cpu()));
  const dm::Tensor twice = leaf(dm::Tensor::ones({3}, dm::DType::f32, dm::Device::cpu()));
  const dm::Tensor d_once = dm::Tensor::zeros({3}, dm::DType::f32, dm::Device::cpu());
  const dm::Tensor d_twice = dm::Tensor::zeros({3}, dm::DType::f32, dm::Device::cpu());
  std::vector<dm::Tensor> offers;
  const dm::Tensor loss = (observed_sum(once, twice, offers) * twice).sum();
  dm::autograd::grad_into(loss, {once, twice}, {d_once, d_twice});
  ASSERT_EQ(offers.size(), 2u);
  ASSERT_TRUE(offers[0].defined());
  EXPECT_EQ(offers[0].data_ptr(), d_once.data_ptr());
  EXPECT_FALSE(offers[1].defined()) << "a second edge's gradient would overwrite the first's";
  EXPECT_EQ(values(d_once), (std::vector<float>{1.0f, 1.0f, 1.0f}));   // d/d once of (once + twice) * twice
  EXPECT_EQ(values(d_twice), (std::vector<float>{3.0f, 3.0f, 3.0f}));  // twice + (once + twice)
  EXPECT_FALSE(dm::autograd::gradient_destination(0).defined()) << "an offer outlives its backward function";

  offers.clear();
  (void)dm::autograd::grad((observed_sum(once, twice, offers)).sum(), {once, twice});
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_FALSE(offers[0].defined() || offers[1].defined()) << "plain grad() has no buffers to offer";
}

TEST(GradInto, ConvertsToTheDestinationsDtypeAndRejectsBadBuffers) {
  dm::manual_seed(5);
  Graph g;
  const std::vector<dm::Tensor> expected = dm::autograd::grad(g.loss(), {g.twice});
  const dm::Tensor as_f64 = dm::Tensor::zeros({3}, dm::DType::f64, dm::Device::cpu());
  dm::autograd::grad_into(g.loss(), {g.twice}, {as_f64});
  EXPECT_EQ(values(as_f64.to(dm::DType::f32)), values(expected[0]));

  EXPECT_THROW(dm::autograd::grad_into(g.loss(), {g.twice}, {}), dm::ValueError);
  EXPECT_THROW(dm::autograd::grad_into(g.loss(), {g.twice}, {dm::Tensor::zeros({4}, dm::DType::f32, dm::Device::cpu())}),
               dm::ValueError);
  const dm::Tensor strided = dm::Tensor::zeros({3, 2}, dm::DType::f32, dm::Device::cpu()).select(1, 0);
  EXPECT_THROW(dm::autograd::grad_into(g.loss(), {g.twice}, {strided}), dm::ValueError);
}

}  // namespace
