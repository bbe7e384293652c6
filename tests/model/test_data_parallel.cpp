// DataParallel: bitwise identical parameters after N steps for 1, 2 and 4 threads; the reduced
// gradient equal to the full-batch gradient, and training equal to plain full-batch training,
// within f32 rounding; shard arithmetic and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

#include "democratising/model/data_parallel.hpp"
#include "democratising/base/error.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "model_test_util.hpp"

namespace {

constexpr std::int64_t kDims = 12, kClasses = 5, kBatch = 50;  // 50 = shards of 16, 16, 16, 2

dm::Model make_model(std::uint64_t seed, double dropout = 0.0) {
  dm::manual_seed(seed);
  dm::nn::Sequential layers;
  layers.add(dm::nn::Dense(kDims, 32)).add(dm::nn::ReLU());
  if (dropout > 0.0) layers.add(dm::nn::Dropout(dropout));
  layers.add(dm::nn::LayerNorm({32})).add(dm::nn::Dense(32, kClasses));
  return std::move(layers).build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.05, .momentum = 0.9})});
}

std::vector<float> all_parameters(const dm::Model& model) {
  std::vector<float> out;
  for (const auto& [_, p] : model.module().named_parameters()) {
    const auto v = p.to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// Parameters (and the losses on the way) after `steps` data-parallel steps on `threads` threads.
struct TrainingRun {
  std::vector<float> params;
  std::vector<float> losses;
};

TrainingRun train_data_parallel(int threads, int steps, const model_test::Problem& data, double dropout = 0.0) {
  const int previous = dm::num_threads();
  dm::set_num_threads(threads);
  dm::Model model = make_model(7, dropout);
  dm::DataParallel trainer(model, {.shard_size = 16});
  TrainingRun run;
  const std::int64_t batches = data.x.size(0) / kBatch;
  for (int s = 0; s < steps; ++s) {
    const std::int64_t start = (s % batches) * kBatch;
    run.losses.push_back(trainer.train_step(data.x.narrow(0, start, kBatch), data.y.narrow(0, start, kBatch)).item<float>());
  }
  run.params = all_parameters(model);
  dm::set_num_threads(previous);
  return run;
}

TEST(DataParallel, BitwiseIdenticalParametersForOneTwoAndFourThreads) {
  const auto data = model_test::blobs(kBatch * 4, kDims, kClasses, 3);
  const TrainingRun one = train_data_parallel(1, 30, data);
  for (int threads : {2, 4}) {
    const TrainingRun other = train_data_parallel(threads, 30, data);
    ASSERT_EQ(one.params.size(), other.params.size());
    for (std::size_t i = 0; i < one.params.size(); ++i)
      ASSERT_EQ(one.params[i], other.params[i]) << "parameter value " << i << " differs with " << threads << " threads";
    EXPECT_EQ(one.losses, other.losses) << threads << " threads";
  }
  // And it trained: a guard against a test that compares two untouched models.
  EXPECT_LT(one.losses.back(), 0.5f * one.losses.front());
}

TEST(DataParallel, DropoutMasksDoNotDependOnTheThreadCount) {
  // Each shard draws from a stream of its own: which thread runs it, and when, cannot matter.
  const auto data = model_test::blobs(kBatch * 4, kDims, kClasses, 5);
  const TrainingRun one = train_data_parallel(1, 20, data, 0.3);
  for (int threads : {2, 4}) {
    for (int repeat = 0; repeat < 3; ++repeat) {
      const TrainingRun other = train_data_parallel(threads, 20, data, 0.3);
      ASSERT_EQ(one.params, other.params) << threads << " threads, repeat " << repeat;
      ASSERT_EQ(one.losses, other.losses) << threads << " threads, repeat " << repeat;
    }
  }
  // Dropout was really on: without it the same run ends elsewhere.
  EXPECT_NE(one.params, train_data_parallel(1, 20, data).params);
}

TEST(DataParallel, ReducedGradientIsTheFullBatchGradient) {
  const auto data = model_test::blobs(kBatch, kDims, kClasses, 4);
  dm::Model model = make_model(9);
  dm::Tensor full_loss, parallel_loss;
  const dm::Gradients full = model.compute_gradients(data.x, data.y, &full_loss);
  for (std::int64_t shard : {1, 7, 16, 50, 64}) {
    dm::DataParallel trainer(model, {.shard_size = shard});
    const dm::Gradients reduced = trainer.compute_gradients(data.x, data.y, &parallel_loss);
    EXPECT_NEAR(parallel_loss.item<double>(), full_loss.item<double>(), 1e-5) << "shard " << shard;
    ASSERT_EQ(reduced.tensors.size(), full.tensors.size());
    for (std::size_t t = 0; t < full.tensors.size(); ++t) {
      ASSERT_EQ(reduced.tensors[t].first, full.tensors[t].first);
      const auto a = reduced.tensors[t].second.to_vector<float>();
      const auto b = full.tensors[t].second.to_vector<float>();
      ASSERT_EQ(a.size(), b.size());
      for (std::size_t i = 0; i < a.size(); ++i)
        ASSERT_NEAR(a[i], b[i], 1e-5 + 1e-4 * std::abs(b[i])) << full.tensors[t].first << "[" << i << "], shard " << shard;
    }
  }
}

TEST(DataParallel, TrainsLikeSingleThreadedFullBatchTraining) {
  const auto data = model_test::blobs(kBatch * 4, kDims, kClasses, 3);
  const TrainingRun parallel = train_data_parallel(2, 10, data);
  const int previous = dm::num_threads();
  dm::set_num_threads(1);
  dm::Model reference = make_model(7);
  for (int s = 0; s < 10; ++s) {
    const std::int64_t start = (s % 4) * kBatch;
    reference.train_step(data.x.narrow(0, start, kBatch), data.y.narrow(0, start, kBatch));
  }
  dm::set_num_threads(previous);
  const auto expected = all_parameters(reference);
  ASSERT_EQ(expected.size(), parallel.params.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(parallel.params[i], expected[i], 1e-4 + 1e-3 * std::abs(expected[i])) << "parameter value " << i;
}

TEST(DataParallel, ShardCountAndBadInput) {
  dm::Model model = make_model(1);
  EXPECT_THROW(dm::DataParallel(model, {.shard_size = 0}), dm::ValueError);
  dm::DataParallel trainer(model, {.shard_size = 16});
  EXPECT_EQ(trainer.shard_count(1), 1);
  EXPECT_EQ(trainer.shard_count(16), 1);
  EXPECT_EQ(trainer.shard_count(17), 2);
  EXPECT_EQ(trainer.shard_count(64), 4);
  const auto data = model_test::blobs(8, kDims, kClasses, 1);
  EXPECT_THROW(trainer.train_step(data.x, data.y.narrow(0, 0, 7)), dm::ShapeError);
  EXPECT_THROW(trainer.train_step(data.x.narrow(0, 0, 0), data.y.narrow(0, 0, 0)), dm::ShapeError);
  EXPECT_THROW(trainer.train_step(dm::Tensor::scalar(1.0), data.y), dm::ShapeError);
  EXPECT_EQ(model.optimizer().steps(), 0);  // nothing was applied
}

}  // namespace
