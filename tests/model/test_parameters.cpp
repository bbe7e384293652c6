// dm::Parameters: update and update_batch against a naive loop, bitwise equality of a fused
// batch with the same updates applied one by one, and typed errors that change nothing; a
// handle on a model's own parameters, which shares their storage and their lock.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/model/parameters.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Tensor;

std::vector<float> random_values(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Sizes around the block boundaries of the fused pass (16384), and one that is not a multiple of them.
class ParameterSizes : public ::testing::TestWithParam<std::int64_t> {};

TEST_P(ParameterSizes, UpdateBatchEqualsNaiveLoopAndSequentialUpdates) {
  const std::int64_t n = GetParam();
  const auto initial = random_values(static_cast<std::size_t>(n), 1);
  std::vector<Tensor> updates;
  std::vector<std::vector<float>> raw;
  for (int k = 0; k < 7; ++k) {
    raw.push_back(random_values(static_cast<std::size_t>(n), 100 + static_cast<std::uint64_t>(k)));
    updates.push_back(Tensor::from_vector(raw.back(), {n}));
  }
  const float alpha = -0.125f;

  // Naive reference: each update in turn, element by element.
  std::vector<float> expected = initial;
  for (const auto& u : raw)
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] += alpha * u[i];

  for (int threads : {1, 2, 4}) {
    dm::set_num_threads(threads);
    dm::Parameters fused(Tensor::from_vector(initial, {n}));
    fused.update_batch(updates, alpha);
    dm::Parameters one_by_one(Tensor::from_vector(initial, {n}));
    for (const Tensor& u : updates) one_by_one.update(u, alpha);

    const auto a = fused.snapshot().to_vector<float>();
    const auto b = one_by_one.snapshot().to_vector<float>();
    ASSERT_EQ(a.size(), expected.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      ASSERT_FLOAT_EQ(a[i], expected[i]) << "element " << i << ", " << threads << " threads";
      ASSERT_EQ(a[i], b[i]) << "fused and sequential differ at " << i;  // same additions, same order
    }
  }
  dm::set_num_threads(2);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ParameterSizes, ::testing::Values(1, 16383, 16384, 16385, 100003));

TEST(Parameters, AcceptsAnyShapeAndStridesWithTheRightCount) {
  const std::vector<float> init = {1, 2, 3, 4, 5, 6};
  dm::Parameters params(Tensor::from_vector(init, {2, 3}));
  EXPECT_EQ(params.numel(), 6);
  // A transposed (non-contiguous) update is read in its logical row-major order.
  const Tensor delta = Tensor::from_vector(std::vector<float>{10, 20, 30, 40, 50, 60}, {3, 2}).transpose(0, 1);
  params.update(delta);
  const std::vector<float> expected = {11, 32, 53, 24, 45, 66};
  EXPECT_EQ(params.snapshot().to_vector<float>(), expected);
  params.read([&](const Tensor& v) { EXPECT_EQ(v.to_vector<float>(), expected); });
}

TEST(Parameters, ADeltaThatViewsTheParametersIsReadBeforeTheUpdate) {
  dm::Parameters params(Tensor::from_vector(std::vector<float>{1, 2, 3}, {3}));
  const Tensor self = params.read([](const Tensor& v) { return v; });  // a handle on the same storage
  const std::vector<Tensor> twice = {self, self};
  params.update_batch(twice);
  EXPECT_EQ(params.snapshot().to_vector<float>(), (std::vector<float>{3, 6, 9}));
}

TEST(Parameters, BadUpdatesThrowTypedErrorsAndChangeNothing) {
  const std::vector<float> init = {1, 2, 3, 4};
  dm::Parameters params(Tensor::from_vector(init, {4}));
  const Tensor good = Tensor::ones({4});
  EXPECT_THROW(params.update(Tensor::ones({5})), dm::ShapeError);
  EXPECT_THROW(params.update(Tensor::ones({4}, dm::DType::f64)), dm::DTypeError);
  EXPECT_THROW(params.update(Tensor()), dm::ValueError);
  // One bad update in a batch: nothing is applied, not even the good ones before it.
  const std::vector<Tensor> batch = {good, good, Tensor::ones({2, 3})};
  EXPECT_THROW(params.update_batch(batch), dm::ShapeError);
  EXPECT_EQ(params.snapshot().to_vector<float>(), init);
  EXPECT_THROW(dm::Parameters(Tensor::ones({3}, dm::DType::i64)), dm::DTypeError);
  params.update_batch(std::span<const Tensor>{});  // no updates: no change
  EXPECT_EQ(params.snapshot().to_vector<float>(), init);
}

dm::Model small_model(std::uint64_t seed, dm::DType dtype = dm::DType::f32) {
  dm::manual_seed(seed);
  return dm::nn::Sequential()
      .add(dm::nn::Dense(4, 8, true, dtype))
      .add(dm::nn::ReLU())
      .add(dm::nn::Dense(8, 3, true, dtype))
      .build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.1})});
}

std::vector<float> model_values(const dm::Model& model) {
  std::vector<float> out;
  for (const auto& [_, p] : model.module().named_parameters()) {
    const auto v = p.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST(ModelParameters, UpdateBatchWritesTheModelsOwnParameters) {
  dm::Model model = small_model(3);
  const std::vector<float> initial = model_values(model);
  const auto n = static_cast<std::int64_t>(initial.size());
  std::vector<Tensor> updates;
  for (int k = 0; k < 3; ++k) updates.push_back(Tensor::from_vector(random_values(initial.size(), 40 + k), {n}));

  dm::Parameters params = model.parameters();
  EXPECT_EQ(params.numel(), model.module().num_parameters());
  params.update_batch(updates, -0.5f);
  // The same updates on a separate copy of the values: the model's parameters, which its
  // forward reads, are now bitwise those.
  dm::Parameters separate(Tensor::from_vector(initial, {n}));
  separate.update_batch(updates, -0.5f);
  EXPECT_EQ(model_values(model), separate.snapshot().to_vector<float>());
  EXPECT_EQ(params.snapshot().to_vector<float>(), separate.snapshot().to_vector<float>());

  // No copy: a handle taken later, and a copy of this one, see the same storage.
  const dm::Parameters copy = params;
  model.parameters().update(updates[0], 1.0f);
  EXPECT_EQ(copy.snapshot().to_vector<float>(), model_values(model));
  // And the model trains on from the updated values.
  const auto data = model_test::blobs(16, 4, 3, 2);
  const std::vector<float> before_step = model_values(model);
  model.train_step(data.x, data.y);
  EXPECT_NE(model_values(model), before_step);
  EXPECT_EQ(params.snapshot().to_vector<float>(), model_values(model));
}

TEST(ModelParameters, ReadingThroughTheHandleHoldsOffTheModelsUpdates) {
  dm::Model model = small_model(4);
  const auto data = model_test::blobs(16, 4, 3, 5);
  const dm::Gradients grads = model.compute_gradients(data.x, data.y);
  dm::Parameters params = model.parameters();
  std::atomic<bool> applied{false};
  std::thread updater;
  params.read([&](const Tensor& values) {
    const std::vector<float> seen = values.to_vector<float>();
    updater = std::thread([&] {
      model.apply_gradients(grads);  // needs the model's write lock, which our read holds off
      applied = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(applied.load()) << "the model updated its parameters while a Parameters read held its lock";
    EXPECT_EQ(values.to_vector<float>(), seen);
  });
  updater.join();
  EXPECT_TRUE(applied.load());
  EXPECT_EQ(model.optimizer().steps(), 1);
}

TEST(ModelParameters, UpdatesRaceSafelyWithTraining) {
  // Hogwild training on two threads and fused updates on a third: every write takes the
  // model's write lock, so the run is clean under TSan and every update lands once.
  dm::Model model = small_model(6);
  const auto data = model_test::blobs(32, 4, 3, 6);
  dm::Parameters params = model.parameters();
  const Tensor zero = Tensor::zeros({params.numel()});
  const std::vector<Tensor> nothing = {zero, zero};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) model.train_step(data.x, data.y);
    });
  threads.emplace_back([&] {
    for (int i = 0; i < 50; ++i) params.update_batch(nothing);
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(model.optimizer().steps(), 20);
  EXPECT_EQ(params.snapshot().to_vector<float>(), model_values(model));
}

TEST(ModelParameters, OnlyF32ModelsHaveAHandle) {
  const dm::Model model = small_model(5, dm::DType::f64);
  EXPECT_THROW((void)model.parameters(), dm::DTypeError);
}

}  // namespace
