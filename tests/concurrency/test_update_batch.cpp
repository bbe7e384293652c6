// Parameters under contention: writers calling update and update_batch while readers take
// snapshots. Every update adds the same whole number to every element, so a reader that ever
// sees two different values in one snapshot saw a torn update, and the final value must be the
// exact sum of everything applied (whole numbers add exactly in f32 at these sizes).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "democratising/model/parameters.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

using dm::Tensor;

constexpr std::int64_t kNumel = 36000;  // three blocks of 16384, so each pass runs in parallel on the pool
constexpr int kSingleWriters = 2, kBatchWriters = 2, kReaders = 2;
constexpr int kRounds = 25, kBatchSize = 4;

// A consistent view has every element equal; returns that value, or -1 for a torn one.
float uniform_value(const std::vector<float>& v) {
  for (float x : v)
    if (x != v.front()) return -1.0f;
  return v.front();
}

TEST(UpdateBatchContention, WritersAndReadersNeverSeeTornUpdates) {
  for (int repeat = 0; repeat < 2; ++repeat) {
    dm::Parameters params(Tensor::zeros({kNumel}));
    // Update values 1, 2 and 3: whole numbers, exact in any order of addition.
    std::vector<Tensor> value(4);
    for (int v = 1; v <= 3; ++v) value[static_cast<std::size_t>(v)] = Tensor::full({kNumel}, v);

    std::atomic<bool> writing{true};
    std::atomic<int> torn{0}, went_back{0}, reads{0};
    std::vector<std::thread> threads;
    double expected = 0.0;
    for (int w = 0; w < kSingleWriters; ++w) {
      const int v = 1 + w % 3;
      expected += static_cast<double>(kRounds * kBatchSize) * v;
      threads.emplace_back([&, v] {
        for (int r = 0; r < kRounds * kBatchSize; ++r) params.update(value[static_cast<std::size_t>(v)]);
      });
    }
    for (int w = 0; w < kBatchWriters; ++w) {
      const int v = 1 + (w + 1) % 3;
      expected += static_cast<double>(kRounds * kBatchSize) * v;
      threads.emplace_back([&, v] {
        const std::vector<Tensor> batch(kBatchSize, value[static_cast<std::size_t>(v)]);
        for (int r = 0; r < kRounds; ++r) params.update_batch(batch);
      });
    }
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        float last = 0.0f;
        // At least a few reads even if the writers finish first.
        for (int n = 0; writing.load() || n < 5; ++n) {
          const float now = r % 2 == 0 ? uniform_value(params.snapshot().to_vector<float>())
                                       : params.read([](const Tensor& v) { return uniform_value(v.to_vector<float>()); });
          if (now < 0.0f) torn++;
          if (now < last) went_back++;  // updates only add: time never runs backwards
          last = now;
          reads++;
        }
      });
    }
    for (auto& t : threads) t.join();
    writing = false;
    for (auto& t : readers) t.join();

    EXPECT_EQ(torn.load(), 0);
    EXPECT_EQ(went_back.load(), 0);
    EXPECT_GE(reads.load(), kReaders * 5);
    const auto final_values = params.snapshot().to_vector<float>();
    EXPECT_EQ(uniform_value(final_values), static_cast<float>(expected));
  }
}

}  // namespace
