// The backward engine: accumulation, shared subgraphs, leaves, modes, threads and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using ::testing::HasSubstr;

dm::Tensor leaf(std::vector<double> v) {
  auto t = dm::Tensor::from_vector(v);
  t.set_requires_grad();
  return t;
}

TEST(Engine, BackwardAccumulatesIntoLeaves) {
  auto x = leaf({1.0, 2.0, 3.0});
  auto y = (x * x).sum();  // dy/dx = 2x
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2.0, 4.0, 6.0}));
  (x * 3.0).sum().backward();  // accumulates: 2x + 3
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5.0, 7.0, 9.0}));
  x.set_grad(dm::Tensor());
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, DiamondGraphSumsBothPaths) {
  auto x = leaf({2.0});
  auto a = x * 3.0;
  auto b = x * x;
  auto y = (a + b) * a;  // y = (3x + x^2) 3x = 9x^2 + 3x^3, dy/dx = 18x + 9x^2 = 72 at 2
  y.sum().backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 72.0);
}

TEST(Engine, GradReturnsGradientsWithoutTouchingLeaves) {
  auto w = leaf({1.0, -1.0});
  auto unused = leaf({5.0});
  auto loss = (w * w * 2.0).sum();
  auto g = dm::autograd::grad(loss, {w, unused});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{4.0, -4.0}));
  EXPECT_EQ(g[1].to_vector<double>(), (std::vector<double>{0.0}));
  EXPECT_FALSE(w.grad().defined());
}

TEST(Engine, NoGradGuardStopsRecording) {
  auto x = leaf({1.0});
  {
    dm::NoGradGuard guard;
    EXPECT_FALSE(dm::is_grad_enabled());
    auto y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
  }
  EXPECT_TRUE(dm::is_grad_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Engine, DetachCutsTheGraph) {
  auto x = leaf({3.0});
  auto y = x * x;
  auto d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage_with(y));
  auto z = (d * x).sum();  // only the direct path counts: dz/dx = d = 9
  z.backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 9.0);
}

TEST(Engine, GradModeIsPerThread) {
  dm::NoGradGuard off_here;
  bool other_thread_records = false;
  std::thread t([&] {
    auto x = leaf({1.0});
    other_thread_records = (x + 1.0).requires_grad();
  });
  t.join();
  EXPECT_TRUE(other_thread_records);
}

TEST(Engine, ThreadsShareLeavesButNotGraphs) {
  auto w = leaf({0.5, -0.5, 2.0});
  constexpr int kThreads = 8;
  std::vector<std::vector<double>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        auto loss = (w * w * static_cast<double>(t + 1)).sum();
        results[static_cast<std::size_t>(t)] = dm::autograd::grad(loss, {w})[0].to_vector<double>();
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(results[static_cast<std::size_t>(t)],
              (std::vector<double>{1.0 * (t + 1), -1.0 * (t + 1), 4.0 * (t + 1)}));
}

TEST(Engine, ConcurrentBackwardIntoOneLeafLosesNothing) {
  auto w = leaf({1.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) (w * 1.0).sum().backward();
    });
  for (auto& th : threads) th.join();
  EXPECT_DOUBLE_EQ(w.grad().item<double>(), 800.0);
}

TEST(Engine, Errors) {
  auto plain = dm::Tensor::from_vector(std::vector<double>{1.0, 2.0});
  try {
    plain.sum().backward();
    FAIL();
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), HasSubstr("does not require grad"));
  }
  auto x = leaf({1.0, 2.0});
  try {
    (x * 2.0).backward();
    FAIL();
  } catch (const dm::ShapeError& e) {
    EXPECT_THAT(e.what(), HasSubstr("one-element"));
  }
  auto y = x * 2.0;
  EXPECT_THROW(y.set_requires_grad(), dm::ValueError);
  auto ints = dm::Tensor::from_vector(std::vector<std::int64_t>{1});
  EXPECT_THROW(ints.set_requires_grad(), dm::DTypeError);
  EXPECT_THROW(dm::autograd::grad(x.sum(), {y}), dm::ValueError);
  EXPECT_THROW((x * 2.0).backward(dm::Tensor::ones({3}, dm::DType::f64)), dm::ShapeError);
}

// A dtype conversion passes the gradient through, converted back to the input's dtype.
// (Not in the gradcheck table: central differences through f32 rounding measure rounding.)
TEST(Engine, DtypeConversionPassesGradientInInputDtype) {
  auto x = leaf({1.0, 2.0});
  auto g = dm::autograd::grad((x.to(dm::DType::f32) * 2.0f).sum(), {x})[0];
  EXPECT_EQ(g.dtype(), dm::DType::f64);
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{2.0, 2.0}));
}

TEST(Engine, ExplicitGradOutput) {
  auto x = leaf({1.0, 2.0});
  (x * 3.0).backward(dm::Tensor::from_vector(std::vector<double>{1.0, 10.0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3.0, 30.0}));
}

TEST(Engine, GradcheckCatchesAWrongGradient) {
  // A deliberately wrong backward must be reported: the checker itself can fail.
  auto x = leaf({0.3, 0.7});
  auto wrong = [](const std::vector<dm::Tensor>& in) {
    auto out = in[0].detach() * 2.0;  // cut off, then re-attached with a wrong derivative
    return out + in[0] * 0.0;
  };
  const auto result = dm::autograd::gradcheck(wrong, {x});
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.message, HasSubstr("input 0"));
}

}  // namespace
