// Hogwild-style training: many threads call train_step on one Model at once (the forward and
// backward passes share the parameters' read lock, updates take the write lock), while
// another thread predicts and saves checkpoints. The parameters must stay finite and the
// loss must still go down, in every thread's own last steps as well as on held-out data.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "democratising/democratising.hpp"

namespace {

constexpr int kThreads = 8;
// 8 x 250 = 2000 steps in all: long enough for many interleavings of reads and updates.
constexpr int kStepsPerThread = 250;
constexpr std::int64_t kDims = 8, kClasses = 4, kBatch = 16;

struct Shard {
  dm::Tensor x, y;
};

// Gaussian blobs, class c centred at 3 e_c, from a std::mt19937_64 stream.
Shard make_shard(std::int64_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(0.0, 0.7);
  std::vector<float> x(static_cast<std::size_t>(n * kDims));
  std::vector<std::int64_t> y(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int64_t>(gen() % kClasses);
    for (std::int64_t d = 0; d < kDims; ++d) x[i * kDims + d] = static_cast<float>((d == y[i] ? 3.0 : 0.0) + noise(gen));
  }
  return {dm::Tensor::from_vector(x, {n, kDims}), dm::Tensor::from_vector(y)};
}

double full_loss(const dm::Model& model, const Shard& data) {
  return model.loss_fn()(model.predict(data.x), data.y).item<double>();
}

TEST(ModelHogwild, ManyThreadsTrainOneModel) {
  dm::manual_seed(21);
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(kDims, 16))
                        .add(dm::nn::LayerNorm({16}))
                        .add(dm::nn::Dense(16, kClasses))
                        .build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.02, .momentum = 0.9})});
  const Shard test = make_shard(256, 99);
  const double initial = full_loss(model, test);

  std::vector<Shard> shards;
  for (int t = 0; t < kThreads; ++t) shards.push_back(make_shard(kBatch * 4, 1000 + t));
  std::atomic<int> non_finite_losses{0};
  // Each thread's loss on its own data before training, and its mean loss over its last 20
  // steps (not its first steps: a thread that starts late meets an already trained model).
  std::vector<double> before(kThreads, 0.0), late(kThreads, 0.0);
  for (int t = 0; t < kThreads; ++t) before[static_cast<std::size_t>(t)] = full_loss(model, shards[static_cast<std::size_t>(t)]);
  std::atomic<bool> training{true};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      const Shard& shard = shards[static_cast<std::size_t>(t)];
      for (int step = 0; step < kStepsPerThread; ++step) {
        const std::int64_t start = (step % 4) * kBatch;
        const dm::Tensor loss =
            model.train_step(shard.x.narrow(0, start, kBatch), shard.y.narrow(0, start, kBatch));
        const double value = loss.item<double>();
        if (!std::isfinite(value)) non_finite_losses++;
        if (step >= kStepsPerThread - 20) late[static_cast<std::size_t>(t)] += value / 20.0;
      }
    });
  }
  // Readers at the same time: predictions and checkpoints see consistent parameters.
  const auto checkpoint = std::filesystem::temp_directory_path() /
                          ("dm_hogwild_" + std::to_string(std::random_device{}()) + ".safetensors");
  std::thread reader([&] {
    int rounds = 0, saves = 0;
    while (training.load() || rounds == 0) {
      const dm::Tensor out = model.predict(test.x.narrow(0, 0, 8));
      for (float v : out.to_vector<float>())
        if (!std::isfinite(v)) non_finite_losses++;
      // Capped: each save syncs a file to disk, and a few dozen interleavings are plenty.
      if (rounds++ % 4 == 0 && saves < 24) {
        model.save_checkpoint(checkpoint.string());
        ++saves;
      }
    }
  });
  for (auto& w : workers) w.join();
  training = false;
  reader.join();

  EXPECT_EQ(non_finite_losses.load(), 0);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_LT(late[static_cast<std::size_t>(t)], 0.5 * before[static_cast<std::size_t>(t)]) << "thread " << t;
  for (const auto& [name, p] : model.module().named_parameters())
    for (float v : p.to_vector<float>()) ASSERT_TRUE(std::isfinite(v)) << name;
  EXPECT_EQ(model.optimizer().steps(), kThreads * kStepsPerThread);
  const double final_loss = full_loss(model, test);
  EXPECT_LT(final_loss, 0.5 * initial) << "initial " << initial << ", final " << final_loss;

  // The last checkpoint is a whole one: it loads back into a model of the same shape.
  dm::Model copy = dm::nn::Sequential()
                       .add(dm::nn::Dense(kDims, 16))
                       .add(dm::nn::LayerNorm({16}))
                       .add(dm::nn::Dense(16, kClasses))
                       .build();
  EXPECT_NO_THROW(copy.load_checkpoint(checkpoint.string()));
  std::filesystem::remove(checkpoint);
}

}  // namespace
