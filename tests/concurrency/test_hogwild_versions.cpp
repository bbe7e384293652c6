// The rule for a parameter update that lands between a graph's forward and its backward
// (Hogwild training with the lock released in between): backward differentiates each read at
// the values the forward saw, and throws rather than use a value the update changed. So a
// pass that reads no updated value returns the stale gradient, and one that would read an
// updated value is refused; it never returns a mixture.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "democratising/autograd/autograd.hpp"
#include "democratising/democratising.hpp"

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using dm::Tensor;

constexpr std::int64_t kBatch = 5, kIn = 4, kHidden = 3, kOut = 2;

Tensor random_values(std::mt19937_64& gen, const dm::Shape& shape) {
  std::normal_distribution<double> n(0.0, 0.6);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = n(gen);
  return Tensor::from_vector(v, shape);
}

Tensor parameter(std::mt19937_64& gen, const dm::Shape& shape) {
  Tensor p = random_values(gen, shape);
  p.set_requires_grad();
  return p;
}

// A plain SGD step on every parameter, with made-up gradients: what an optimizer does under
// the write lock (it runs under NoGradGuard by itself).
void update(dm::optim::SGD& sgd, const dm::nn::NamedTensors& params) {
  std::vector<Tensor> grads;
  for (const auto& [_, p] : params) grads.push_back(Tensor::ones(p.shape(), p.dtype()));
  sgd.step(grads);
}

// loss = sum(tanh(x w + b)) and, by plain loops over the values given, d loss / d w and d b.
struct LinearReference {
  std::vector<double> grad_w, grad_b;
};

LinearReference linear_reference(const Tensor& x, const Tensor& w, const Tensor& b) {
  const auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  LinearReference r{std::vector<double>(kIn * kOut, 0.0), std::vector<double>(kOut, 0.0)};
  for (std::int64_t n = 0; n < kBatch; ++n) {
    for (std::int64_t j = 0; j < kOut; ++j) {
      double y = bv[j];
      for (std::int64_t i = 0; i < kIn; ++i) y += xv[n * kIn + i] * wv[i * kOut + j];
      const double g = 1.0 - std::tanh(y) * std::tanh(y);
      r.grad_b[j] += g;
      for (std::int64_t i = 0; i < kIn; ++i) r.grad_w[i * kOut + j] += xv[n * kIn + i] * g;
    }
  }
  return r;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "element " << i;
}

TEST(HogwildVersions, UpdateTheBackwardDoesNotReadLeavesTheStaleGradient) {
  std::mt19937_64 gen(1);
  const Tensor x = random_values(gen, {kBatch, kIn});  // data: requires no grad
  Tensor w = parameter(gen, {kIn, kOut}), b = parameter(gen, {kOut});
  const dm::nn::NamedTensors params{{"w", w}, {"b", b}};
  dm::optim::SGD sgd({.lr = 0.5});
  sgd.bind(params);
  std::shared_mutex lock;

  Tensor loss;
  {
    std::shared_lock read(lock);
    loss = (x.matmul(w) + b).tanh().sum();  // w's and b's gradients read x and tanh's output only
  }
  const LinearReference at_forward = linear_reference(x, w, b);
  const std::vector<double> w_before = w.to_vector<double>();
  {
    std::unique_lock write(lock);
    update(sgd, params);
  }
  ASSERT_NE(w.to_vector<double>(), w_before);  // the update did land
  EXPECT_GT(w.version(), 0u);
  {
    std::shared_lock read(lock);
    loss.backward();
  }
  expect_near(w.grad().to_vector<double>(), at_forward.grad_w);
  expect_near(b.grad().to_vector<double>(), at_forward.grad_b);
}

TEST(HogwildVersions, UpdateTheBackwardWouldReadRefusesThePass) {
  std::mt19937_64 gen(2);
  const Tensor x = random_values(gen, {kBatch, kIn});
  Tensor w1 = parameter(gen, {kIn, kHidden}), w2 = parameter(gen, {kHidden, kOut});
  const dm::nn::NamedTensors params{{"w1", w1}, {"w2", w2}};
  dm::optim::SGD sgd({.lr = 0.5});
  sgd.bind(params);

  // h requires grad, so h's gradient through h w2 reads w2: after the update it would be the
  // new w2's, while w1's gradient below it belongs to the old w2.
  const Tensor stale = x.matmul(w1).tanh().matmul(w2).sum();
  update(sgd, params);
  try {
    stale.backward();
    FAIL() << "a backward that reads an updated parameter went through";
  } catch (const dm::ValueError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("matmul"), HasSubstr("(3, 2)"), HasSubstr("version 0 then, 1 now")));
  }
  EXPECT_FALSE(w1.grad().defined());
  EXPECT_FALSE(w2.grad().defined());

  // A graph recorded after the update saved the new versions: it runs, at the new values.
  const Tensor fresh = x.matmul(w1).tanh().matmul(w2).sum();
  fresh.backward();
  const Tensor w1_copy = w1.detach().clone().set_requires_grad();
  const Tensor w2_copy = w2.detach().clone().set_requires_grad();
  const auto expected = dm::autograd::grad(x.matmul(w1_copy).tanh().matmul(w2_copy).sum(), {w1_copy, w2_copy});
  expect_near(w1.grad().to_vector<double>(), expected[0].to_vector<double>());
  expect_near(w2.grad().to_vector<double>(), expected[1].to_vector<double>());
}

TEST(HogwildVersions, ConcurrentUpdatesNeverYieldAMixedGradient) {
  // Trainers run forward and backward in separate read-lock sections while an updater takes
  // the write lock in between. Every backward must give the gradient at the values its
  // forward saw (recomputed from a snapshot taken with the forward), or be refused; one-layer
  // graphs, which read no parameter in backward, are never refused.
  std::mt19937_64 gen(3);
  const Tensor x = random_values(gen, {kBatch, kIn});
  Tensor w1 = parameter(gen, {kIn, kHidden}), w2 = parameter(gen, {kHidden, kOut});
  const dm::nn::NamedTensors params{{"w1", w1}, {"w2", w2}};
  dm::optim::SGD sgd({.lr = 1e-3});
  sgd.bind(params);
  std::shared_mutex lock;
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0}, passed{0}, wrong{0}, refused_one_layer{0};

  std::thread updater([&] {
    while (!stop.load()) {
      std::unique_lock write(lock);
      update(sgd, params);
    }
  });
  std::vector<std::thread> trainers;
  for (int t = 0; t < 4; ++t) {
    trainers.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        const bool two_layers = (i + t) % 2 == 0;
        Tensor loss, w1_seen, w2_seen;
        {
          std::shared_lock read(lock);
          loss = two_layers ? x.matmul(w1).tanh().matmul(w2).sum() : x.matmul(w1).tanh().sum();
          w1_seen = w1.detach().clone().set_requires_grad();
          w2_seen = w2.detach().clone().set_requires_grad();
        }
        std::this_thread::yield();  // let the updater in
        std::vector<Tensor> got;
        try {
          std::shared_lock read(lock);
          got = dm::autograd::grad(loss, {w1, w2});
        } catch (const dm::ValueError&) {
          ++refused;
          if (!two_layers) ++refused_one_layer;
          continue;
        }
        const Tensor again = two_layers ? x.matmul(w1_seen).tanh().matmul(w2_seen).sum() : x.matmul(w1_seen).tanh().sum();
        const auto expected = dm::autograd::grad(again, {w1_seen, w2_seen});
        for (std::size_t k = 0; k < 2; ++k) {
          const auto a = got[k].to_vector<double>(), e = expected[k].to_vector<double>();
          for (std::size_t j = 0; j < a.size(); ++j)
            if (std::abs(a[j] - e[j]) > 1e-12) ++wrong;
        }
        ++passed;
      }
    });
  }
  for (auto& t : trainers) t.join();
  stop = true;
  updater.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(refused_one_layer.load(), 0);
  EXPECT_EQ(passed.load() + refused.load(), 4 * 60);
  EXPECT_GE(passed.load(), 120);  // every one-layer graph passes
}

}  // namespace
