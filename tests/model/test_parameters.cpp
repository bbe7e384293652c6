// dm::Parameters: update and update_batch against a naive loop, bitwise equality of a fused
// batch with the same updates applied one by one, and typed errors that change nothing.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "democratising/error.hpp"
#include "democratising/parameters.hpp"
#include "democratising/runtime.hpp"

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

}  // namespace
