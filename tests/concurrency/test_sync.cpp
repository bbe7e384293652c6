// RwLock, Mutex and SyncPoint under real threads, many iterations.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "democratising/democratising.hpp"

namespace {

constexpr int kThreads = 8;

// Readers must always see a tensor whose elements all hold the same value: a torn read would
// mean a reader overlapped the writer's fill_.
TEST(RwLock, ReadersSeeWholeWritesWhileOneThreadWrites) {
  dm::RwLock<dm::Tensor> params(dm::Tensor::zeros({64, 16}));
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kThreads; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto guard = params.read();
        const std::vector<float> v = guard->to_vector<float>();
        for (float x : v)
          if (x != v[0]) torn++;
        reads++;
      }
    });
  }
  // The lock prefers writers: without this wait, a busy machine may let all the writes finish
  // before a reader is even scheduled, and the test would check nothing.
  while (reads.load() == 0) std::this_thread::yield();
  const int writes = 2000;
  for (int k = 1; k <= writes; ++k) {
    auto guard = params.write();
    guard->fill_(static_cast<double>(k));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(params.read()->to_vector<float>()[0], static_cast<float>(writes));
}

TEST(RwLock, ManyReadersHoldTheLockTogether) {
  dm::RwLock<int> value(5);
  std::atomic<int> inside{0}, peak{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto g = value.read();
      const int now = ++inside;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      --inside;
      EXPECT_EQ(*g, 5);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GE(peak.load(), 2) << "readers should not exclude each other";
}

TEST(Mutex, CountsExactlyUnderContention) {
  dm::Mutex<long> counter(0);
  const int per_thread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < per_thread; ++i) ++*counter.lock();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(*counter.lock(), static_cast<long>(kThreads) * per_thread);
}

// The guide's SharedModel: parameters behind an RwLock, gradients behind a Mutex.
TEST(Mutex, SharedModelPatternKeepsGradientsConsistent) {
  dm::RwLock<dm::Tensor> parameters(dm::Tensor::full({32}, 1.0));
  dm::Mutex<dm::Tensor> gradients(dm::Tensor::zeros({32}));
  std::vector<std::thread> threads;
  const int rounds = 500;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        auto p = parameters.read();
        auto g = gradients.lock();
        // g += p, written element by element through the guard
        float* gd = g->data<float>();
        const float* pd = p->data<float>();
        for (int k = 0; k < 32; ++k) gd[k] += pd[k];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (float v : gradients.lock()->to_vector<float>()) EXPECT_EQ(v, static_cast<float>(kThreads * rounds));
}

TEST(SyncPoint, AllPartiesMeetThenReadyIsRaised) {
  for (int round = 0; round < 50; ++round) {
    dm::SyncPoint sync(kThreads);
    std::atomic<int> arrived{0};
    std::atomic<int> seen_before_all{0};
    std::thread watcher([&] {
      sync.wait_ready();
      EXPECT_EQ(arrived.load(), kThreads);
    });
    std::vector<std::thread> parties;
    for (int t = 0; t < kThreads; ++t)
      parties.emplace_back([&] {
        ++arrived;
        sync.wait();
        if (arrived.load() != kThreads) seen_before_all++;
        EXPECT_TRUE(sync.is_ready());
      });
    for (auto& t : parties) t.join();
    watcher.join();
    EXPECT_EQ(seen_before_all.load(), 0);
    EXPECT_TRUE(sync.is_ready());
  }
}

}  // namespace
