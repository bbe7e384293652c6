// OrderedJobs, the thread the MPI backend runs started all-reduces on: queue order, waits with
// deadlines, errors, abandonment, and many producers' jobs each run exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "democratising/error.hpp"
#include "dist/ordered_jobs.hpp"

namespace dm::dist::detail {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(OrderedJobs, RunInQueueOrderOneAtATime) {
  OrderedJobs jobs;
  std::vector<int> order;  // written by the job thread only, one job at a time
  std::atomic<int> running{0};
  std::vector<OrderedJobs::Handle> handles;
  for (int i = 0; i < 200; ++i)
    handles.push_back(jobs.push([&, i] {
      EXPECT_EQ(running.fetch_add(1), 0);
      order.push_back(i);
      running.fetch_sub(1);
    }));
  ASSERT_TRUE(jobs.drain_until(Clock::now() + 10s));
  for (const auto& h : handles) EXPECT_TRUE(h.done());
  ASSERT_EQ(order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

TEST(OrderedJobs, AWaitPastItsDeadlineReturnsFalseAndTheJobStillFinishes) {
  OrderedJobs jobs;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  OrderedJobs::Handle slow = jobs.push([released] { released.wait(); });
  const auto start = Clock::now();
  EXPECT_FALSE(slow.wait_until(Clock::now() + 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_FALSE(slow.done());
  EXPECT_TRUE(jobs.busy());
  release.set_value();
  EXPECT_TRUE(slow.wait_until(Clock::now() + 10s));
}

TEST(OrderedJobs, AJobsExceptionReachesItsWaiterOnly) {
  OrderedJobs jobs;
  OrderedJobs::Handle bad = jobs.push([] { throw DistributedError("[all_reduce] peer said no"); });
  OrderedJobs::Handle good = jobs.push([] {});
  EXPECT_THROW(bad.wait_until(Clock::now() + 10s), DistributedError);
  EXPECT_THROW(bad.done(), DistributedError);
  EXPECT_TRUE(good.wait_until(Clock::now() + 10s));
}

TEST(OrderedJobs, AbandonedJobsFailWithTheReasonAndNewOnesDoNotRun) {
  OrderedJobs jobs;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  OrderedJobs::Handle first = jobs.push([released, &started, &ran] {
    started.set_value();
    released.wait();
    ++ran;
  });
  OrderedJobs::Handle queued = jobs.push([&ran] { ++ran; });
  started.get_future().wait();  // the first job is running: it cannot be taken back
  jobs.abandon("rank 0 timed out");
  release.set_value();
  EXPECT_TRUE(first.wait_until(Clock::now() + 10s));
  try {
    queued.wait_until(Clock::now() + 10s);
    FAIL() << "a queued job ran after abandon";
  } catch (const DistributedError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 timed out"), std::string::npos) << e.what();
  }
  EXPECT_THROW(jobs.push([&ran] { ++ran; }).done(), DistributedError);
  EXPECT_EQ(ran.load(), 1);
}

TEST(OrderedJobs, ManyProducersEachJobRunsExactlyOnce) {
  for (int round = 0; round < 20; ++round) {
    OrderedJobs jobs;
    static constexpr int kThreads = 8, kPerThread = 100;
    std::vector<std::atomic<int>> runs(kThreads * kPerThread);
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t)
      producers.emplace_back([&, t] {
        std::vector<OrderedJobs::Handle> mine;
        for (int i = 0; i < kPerThread; ++i) mine.push_back(jobs.push([&runs, t, i] { ++runs[t * kPerThread + i]; }));
        for (const auto& h : mine) EXPECT_TRUE(h.wait_until(Clock::now() + 10s));
      });
    for (std::thread& p : producers) p.join();
    for (const auto& r : runs) ASSERT_EQ(r.load(), 1);
  }
}

TEST(OrderedJobs, DestroyingRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    OrderedJobs jobs;
    for (int i = 0; i < 50; ++i) jobs.push([&ran] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace dm::dist::detail
