// Tensor handles shared by many threads: copying, reading, allocating and drawing random
// numbers at once must neither race nor corrupt anything.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "democratising/democratising.hpp"

namespace {

constexpr int kThreads = 8;

TEST(TensorSharing, HandlesCopiedAndReadFromManyThreads) {
  dm::manual_seed(7);
  const dm::Tensor shared = dm::Tensor::randn({128, 64});
  const std::vector<float> expected = shared.to_vector<float>();
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        dm::Tensor mine = shared;                 // handle copy
        dm::Tensor copy = mine.clone();           // deep copy
        dm::Tensor as64 = mine.to(dm::DType::f64);
        if (copy.to_vector<float>() != expected) mismatches++;
        if (as64.to_vector<double>()[5] != static_cast<double>(expected[5])) mismatches++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(shared.impl().use_count(), 1);  // every copy released
}

TEST(TensorSharing, ConcurrentAllocationAndRelease) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::int64_t n = 1 + (i * 37 + t * 101) % 5000;
        dm::Tensor a = dm::Tensor::full({n}, static_cast<double>(t));
        if (reinterpret_cast<std::uintptr_t>(a.data_ptr()) % 64 != 0) bad++;
        if (a.to_vector<float>()[static_cast<std::size_t>(n - 1)] != static_cast<float>(t)) bad++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST(TensorSharing, ConcurrentRandomDrawsNeverOverlap) {
  // Each draw claims its own counter range, so no two threads get the same numbers.
  dm::manual_seed(11);
  std::vector<std::vector<float>> firsts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) firsts[static_cast<std::size_t>(t)].push_back(dm::Tensor::randn({8}).to_vector<float>()[0]);
    });
  for (auto& th : threads) th.join();
  std::vector<float> all;
  for (auto& v : firsts) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(dm::generator_state().offset, static_cast<std::uint64_t>(kThreads * 50 * 2));  // 8 f32 = 2 blocks
}

TEST(TensorSharing, ParallelOpsCalledFromManyThreads) {
  // Many user threads each using the shared pool at once: no deadlock, right answers.
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        dm::Tensor big = dm::Tensor::full({300000}, static_cast<double>(t + i));
        dm::Tensor c = big.clone();
        if (c.to_vector<float>()[299999] != static_cast<float>(t + i)) bad++;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
