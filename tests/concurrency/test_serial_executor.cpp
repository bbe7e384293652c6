// SerialExecutor under many threads, many times: every job runs exactly once and never beside
// another; each producer's jobs run in the order it submitted them; bounded queues, closes
// racing with submits and destruction with work still queued lose nothing and hang nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "democratising/base/error.hpp"
#include "runtime/serial_executor.hpp"

namespace dm::detail {
namespace {

using namespace std::chrono_literals;

constexpr int kRounds = 20, kThreads = 8, kPerThread = 100;

void run_producers(SerialExecutor& executor, std::vector<std::atomic<int>>& runs, std::atomic<int>& inside,
                   std::vector<std::vector<int>>& order) {
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&, t] {
      std::vector<std::future<void>> mine;
      for (int i = 0; i < kPerThread; ++i)
        mine.push_back(executor.submit([&, t, i] {
          EXPECT_EQ(inside.fetch_add(1), 0) << "two jobs ran at once";
          ++runs[static_cast<std::size_t>(t * kPerThread + i)];
          order[static_cast<std::size_t>(t)].push_back(i);  // the executor's thread only
          inside.fetch_sub(1);
        }));
      for (auto& f : mine) f.get();
    });
  for (std::thread& p : producers) p.join();
}

TEST(SerialExecutorThreads, ManyProducersEachJobRunsOnceAloneAndInItsProducersOrder) {
  for (std::size_t capacity : {std::size_t{0}, std::size_t{3}}) {
    for (int round = 0; round < kRounds; ++round) {
      SerialExecutor executor({.capacity = capacity});
      std::vector<std::atomic<int>> runs(kThreads * kPerThread);
      std::vector<std::vector<int>> order(kThreads);
      std::atomic<int> inside{0};
      run_producers(executor, runs, inside, order);
      for (const auto& r : runs) ASSERT_EQ(r.load(), 1);
      for (const auto& mine : order) {
        ASSERT_EQ(mine.size(), static_cast<std::size_t>(kPerThread));
        for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(mine[static_cast<std::size_t>(i)], i);
      }
    }
  }
}

TEST(SerialExecutorThreads, ACloseRacingWithSubmitsEitherRunsOrRejectsEachJobExactlyOnce) {
  for (int round = 0; round < kRounds; ++round) {
    SerialExecutor executor({.capacity = static_cast<std::size_t>(round % 2 == 0 ? 0 : 4)});
    std::atomic<int> ran{0}, rejected{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t)
      producers.emplace_back([&] {
        std::vector<std::future<void>> mine;
        for (int i = 0; i < kPerThread; ++i) mine.push_back(executor.submit([&ran] { ++ran; }));
        for (auto& f : mine) {
          try {
            f.get();
          } catch (const DistributedError&) {
            ++rejected;
          }
        }
      });
    std::this_thread::sleep_for(std::chrono::microseconds(50 * round));
    executor.close(std::make_exception_ptr(DistributedError("closed mid-flight")));
    for (std::thread& p : producers) p.join();
    EXPECT_EQ(ran.load() + rejected.load(), kThreads * kPerThread);
    // Idle before it goes: a closed executor still inside a job detaches its thread instead.
    EXPECT_TRUE(executor.wait_idle_until(std::chrono::steady_clock::now() + 10s));
  }
}

TEST(SerialExecutorThreads, DestroyingWithJobsStillQueuedRunsEveryOne) {
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> ran{0};
    std::vector<std::future<void>> futures;
    {
      SerialExecutor executor;
      std::vector<std::thread> producers;
      std::mutex m;
      for (int t = 0; t < kThreads; ++t)
        producers.emplace_back([&] {
          for (int i = 0; i < kPerThread; ++i) {
            std::future<void> f = executor.submit([&ran] { ++ran; });
            std::lock_guard lock(m);
            futures.push_back(std::move(f));
          }
        });
      for (std::thread& p : producers) p.join();
    }  // the destructor runs what is still queued
    EXPECT_EQ(ran.load(), kThreads * kPerThread);
    for (auto& f : futures) EXPECT_EQ(f.wait_for(0s), std::future_status::ready);
  }
}

}  // namespace
}  // namespace dm::detail
