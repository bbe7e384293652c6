// BatchNorm's forward() from many threads at once: training calls fold their batch statistics
// into the running ones under the layer's lock, evaluation calls read them under it, and
// checkpoints copy them under it. No update may be lost or torn: with every thread feeding the
// same batch, each update is the same function of the running statistics, so after K calls in
// any interleaving they must be bitwise those of K calls in a row.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "democratising/democratising.hpp"
#include "io/temp_dir.hpp"
#include "support/within_deadline.hpp"

namespace {

constexpr int kTrainingThreads = 4;
constexpr int kCallsPerThread = 150;

bool same_bits(const dm::Tensor& a, const dm::Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const dm::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), static_cast<std::size_t>(a.numel()) * dm::itemsize(a.dtype())) == 0;
}

TEST(BatchNormThreads, ConcurrentTrainingCallsLoseNoUpdate) {
  dm::manual_seed(3);
  const dm::Tensor x = dm::Tensor::randn({32, 16, 6}) * 2.0 + 0.5;
  const dm::nn::BatchNorm1d shared(16);
  std::atomic<bool> bad_eval{false};
  const auto outcome = dm::testing::outcome_within(240, [&]() -> std::string {
    std::vector<std::thread> threads;
    std::atomic<bool> training_done{false};
    for (int t = 0; t < kTrainingThreads; ++t)
      threads.emplace_back([&] {
        dm::NoGradGuard no_grad;
        for (int i = 0; i < kCallsPerThread; ++i) shared.forward(x);
      });
    // Evaluation on the same layer meanwhile: it must always see whole running statistics.
    threads.emplace_back([&] {
      dm::nn::EvalModeGuard eval;
      dm::NoGradGuard no_grad;
      while (!training_done.load()) {
        const dm::Tensor y = shared.forward(x);
        if (!dm::all_finite(y)) bad_eval = true;
      }
    });
    for (int t = 0; t < kTrainingThreads; ++t) threads[static_cast<std::size_t>(t)].join();
    training_done = true;
    threads.back().join();
    return "done";
  });
  ASSERT_TRUE(outcome.has_value()) << "concurrent forward() calls did not finish";
  EXPECT_FALSE(bad_eval.load());

  const dm::nn::BatchNorm1d sequential(16);
  {
    dm::NoGradGuard no_grad;
    for (int i = 0; i < kTrainingThreads * kCallsPerThread; ++i) sequential.forward(x);
  }
  const dm::nn::NamedTensors got = shared.named_buffers(), want = sequential.named_buffers();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].second.item<std::int64_t>(), kTrainingThreads * kCallsPerThread);
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(same_bits(got[i].second, want[i].second)) << got[i].first;
}

TEST(BatchNormThreads, HogwildTrainingWithCheckpointsBesideIt) {
  dm::manual_seed(4);
  dm::nn::Sequential layers;
  layers.add(dm::nn::Dense(8, 16)).add(dm::nn::BatchNorm1d(16)).add(dm::nn::ReLU()).add(dm::nn::Dense(16, 4));
  // A step that diverged is skipped rather than thrown on a thread of its own.
  dm::Model model = std::move(layers).build({.non_finite = dm::NonFinitePolicy::skip});
  const dm::Tensor x = dm::Tensor::randn({24, 8});
  const dm::Tensor y = dm::Tensor::randint(0, 4, dm::Shape{24});
  const dm::testing::TempDir dir;
  const std::string path = dir.file("bn.safetensors");
  const auto outcome = dm::testing::outcome_within(240, [&]() -> std::string {
    std::vector<std::thread> threads;
    std::atomic<bool> done{false};
    for (int t = 0; t < kTrainingThreads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 40; ++i) model.train_step(x, y);
      });
    threads.emplace_back([&] {
      while (!done.load()) {
        model.save_checkpoint(path);
        model.predict(x);
      }
    });
    for (int t = 0; t < kTrainingThreads; ++t) threads[static_cast<std::size_t>(t)].join();
    done = true;
    threads.back().join();
    return "done";
  });
  ASSERT_TRUE(outcome.has_value()) << "training beside checkpoints did not finish";
  const dm::nn::NamedTensors buffers = model.module().named_buffers();
  EXPECT_EQ(buffers[2].second.item<std::int64_t>(), kTrainingThreads * 40);
  EXPECT_TRUE(dm::all_finite(buffers[0].second));
  EXPECT_TRUE(dm::all_finite(buffers[1].second));
  dm::Model restored = [] {
    dm::manual_seed(5);
    dm::nn::Sequential l;
    l.add(dm::nn::Dense(8, 16)).add(dm::nn::BatchNorm1d(16)).add(dm::nn::ReLU()).add(dm::nn::Dense(16, 4));
    return std::move(l).build();
  }();
  restored.load_checkpoint(path);  // a whole, consistent checkpoint
}

}  // namespace
