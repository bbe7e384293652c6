// SerialExecutor: one thread, jobs in submission order, results and exceptions through the
// futures, a bounded queue that holds submitters back, and close/destruction semantics.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "democratising/base/error.hpp"
#include "runtime/serial_executor.hpp"

namespace dm::detail {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST(SerialExecutor, RunsJobsInSubmissionOrderOnOneThreadOfItsOwn) {
  SerialExecutor executor;
  std::vector<int> order;  // written by the executor's thread only, one job at a time
  std::vector<std::thread::id> threads;
  std::vector<std::future<void>> done;
  for (int i = 0; i < 100; ++i)
    done.push_back(executor.submit([&, i] {
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
    }));
  for (auto& f : done) f.get();
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  for (const auto& id : threads) {
    EXPECT_EQ(id, threads.front());
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

TEST(SerialExecutor, AFutureCarriesTheJobsValue) {
  SerialExecutor executor;
  std::future<std::string> answer = executor.submit([] { return std::string("forty-two"); });
  std::future<int> number = executor.submit([] { return 42; });
  EXPECT_EQ(answer.get(), "forty-two");
  EXPECT_EQ(number.get(), 42);
}

TEST(SerialExecutor, AJobsExceptionReachesItsSubmitterOnlyAndLaterJobsStillRun) {
  SerialExecutor executor;
  std::future<void> bad = executor.submit([] { throw ShapeError("[test] a bad shape"); });
  std::future<int> good = executor.submit([] { return 7; });
  EXPECT_THROW(bad.get(), ShapeError);
  EXPECT_EQ(good.get(), 7);
}

TEST(SerialExecutor, MoveOnlyJobsAreAccepted) {
  SerialExecutor executor;
  auto value = std::make_unique<int>(5);
  std::future<int> f = executor.submit([v = std::move(value)] { return *v * 2; });
  EXPECT_EQ(f.get(), 10);
}

TEST(SerialExecutor, WaitIdleTimesOutWhileAJobRunsAndSucceedsAfter) {
  SerialExecutor executor;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::future<void> slow = executor.submit([released] { released.wait(); });
  const auto start = Clock::now();
  EXPECT_FALSE(executor.wait_idle_until(Clock::now() + 50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_TRUE(executor.busy());
  release.set_value();
  EXPECT_TRUE(executor.wait_idle_until(Clock::now() + 10s));
  EXPECT_FALSE(executor.busy());
  slow.get();
}

TEST(SerialExecutor, CloseRejectsQueuedAndLaterJobsWithTheReasonButTheRunningOneFinishes) {
  SerialExecutor executor;
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::future<void> first = executor.submit([&, released] {
    started.set_value();
    released.wait();
    ++ran;
  });
  std::future<void> queued = executor.submit([&ran] { ++ran; });
  started.get_future().wait();  // the first job is running: it cannot be taken back
  executor.close(std::make_exception_ptr(DistributedError("rank 0 timed out")));
  executor.close(std::make_exception_ptr(DistributedError("a later reason")));  // the first one stays
  EXPECT_TRUE(executor.closed());
  try {
    queued.get();
    FAIL() << "a queued job ran after close";
  } catch (const DistributedError& e) {
    EXPECT_EQ(std::string(e.what()), "rank 0 timed out");
  }
  std::future<void> later = executor.submit([&ran] { ++ran; });
  EXPECT_THROW(later.get(), DistributedError);
  release.set_value();
  first.get();
  EXPECT_EQ(ran.load(), 1);
  // Idle before it goes: a closed executor still inside a job detaches its thread instead.
  EXPECT_TRUE(executor.wait_idle_until(Clock::now() + 10s));
}

TEST(SerialExecutor, CloseWithoutAReasonRejectsWithAnError) {
  SerialExecutor executor;
  executor.close();
  std::future<void> f = executor.submit([] {});
  EXPECT_THROW(f.get(), Error);
}

TEST(SerialExecutor, DestroyingRunsWhatIsQueuedFirst) {
  std::atomic<int> ran{0};
  {
    SerialExecutor executor;
    for (int i = 0; i < 50; ++i) (void)executor.submit([&ran] {
        std::this_thread::sleep_for(100us);
        ++ran;
      });
  }
  EXPECT_EQ(ran.load(), 50);
}

TEST(SerialExecutor, AnExecutorThatNeverRanAJobStartsNoThreadAndDestroysAtOnce) {
  SerialExecutor executor;
  EXPECT_FALSE(executor.busy());
  EXPECT_TRUE(executor.wait_idle_until(Clock::now()));
}

TEST(SerialExecutor, ABoundedQueueHoldsTheSubmitterBackUntilThereIsRoom) {
  SerialExecutor executor({.capacity = 2});
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  std::future<void> running = executor.submit([&, released] {
    started.set_value();
    released.wait();
  });
  started.get_future().wait();
  std::future<void> a = executor.submit([] {});
  std::future<void> b = executor.submit([] {});  // the queue is now full
  std::atomic<bool> submitted{false};
  std::thread producer([&] {
    executor.submit([] {}).get();
    submitted = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(submitted.load()) << "a submit went past a full queue";
  release.set_value();
  producer.join();
  EXPECT_TRUE(submitted.load());
  running.get();
  a.get();
  b.get();
}

TEST(SerialExecutor, CloseWakesASubmitterHeldBackByAFullQueueWithTheReason) {
  SerialExecutor executor({.capacity = 1});
  std::promise<void> release, started;
  std::shared_future<void> released = release.get_future().share();
  std::future<void> running = executor.submit([&, released] {
    started.set_value();
    released.wait();
  });
  started.get_future().wait();
  std::future<void> queued = executor.submit([] {});
  std::future<void> held;
  std::thread producer([&] { held = executor.submit([] {}); });
  std::this_thread::sleep_for(20ms);
  executor.close(std::make_exception_ptr(TimeoutError("closed while full")));
  producer.join();
  EXPECT_THROW(held.get(), TimeoutError);
  EXPECT_THROW(queued.get(), TimeoutError);
  release.set_value();
  running.get();
  EXPECT_TRUE(executor.wait_idle_until(Clock::now() + 10s));
}

}  // namespace
}  // namespace dm::detail
