// Task, block_on, spawn, when_all and on_pool: values, exceptions, and that awaited pool work
// leaves the io_context thread free.
#include <gtest/gtest.h>

#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "democratising/async/task.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

dm::Task<int> add(int a, int b) { co_return a + b; }

dm::Task<void> fail(std::string what) {
  co_await add(1, 2);
  throw std::runtime_error(what);
}

TEST(Task, BlockOnReturnsValue) {
  for (int a = -3; a <= 3; ++a) EXPECT_EQ(dm::block_on(add(a, 10)), a + 10);
}

TEST(Task, BlockOnRethrows) {
  EXPECT_THROW(dm::block_on(fail("boom")), std::runtime_error);
  try {
    dm::block_on(fail("named"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "named");
  }
}

TEST(Task, BlockOnVoidAndMoveOnly) {
  int touched = 0;
  auto body = [&]() -> dm::Task<void> { touched = co_await add(2, 3); };
  dm::block_on(body());
  EXPECT_EQ(touched, 5);
  auto make = []() -> dm::Task<std::unique_ptr<int>> { co_return std::make_unique<int>(9); };
  EXPECT_EQ(*dm::block_on(make()), 9);
}

TEST(Task, OnPoolReturnsValueComputedElsewhere) {
  auto body = []() -> dm::Task<std::pair<long, bool>> {
    const auto caller = std::this_thread::get_id();
    std::thread::id worker;
    long sum = co_await dm::on_pool([&] {
      worker = std::this_thread::get_id();
      long s = 0;
      for (long i = 1; i <= 1000; ++i) s += i;
      return s;
    });
    // Resumed on the io_context's thread, not the one that ran the work.
    co_return std::pair{sum, worker != caller && std::this_thread::get_id() == caller};
  };
  for (int rep = 0; rep < 20; ++rep) {
    auto [sum, elsewhere] = dm::block_on(body());
    EXPECT_EQ(sum, 500500);
    EXPECT_TRUE(elsewhere);
  }
}

TEST(Task, OnPoolRethrowsInTheCoroutine) {
  auto body = []() -> dm::Task<std::string> {
    try {
      co_await dm::on_pool([]() -> int { throw std::invalid_argument("bad input"); });
    } catch (const std::invalid_argument& e) {
      co_return e.what();
    }
    co_return "not thrown";
  };
  EXPECT_EQ(dm::block_on(body()), "bad input");
  EXPECT_THROW(dm::block_on(dm::on_pool([] { throw std::runtime_error("void"); })), std::runtime_error);
}

TEST(Task, OnPoolKeepsTheIoThreadFree) {
  // While the pool call waits for a flag, a timer on the same io_context must keep firing and
  // eventually set that flag: impossible if the io thread were blocked in on_pool.
  auto body = []() -> dm::Task<int> {
    std::atomic<bool> release{false};
    std::atomic<int> ticks{0};
    auto ticker = [&]() -> dm::Task<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (ticks < 5) {
        timer.expires_after(std::chrono::milliseconds(1));
        co_await timer.async_wait(asio::use_awaitable);
        ++ticks;
      }
      release = true;
    };
    auto waiter = [&]() -> dm::Task<int> {
      co_return co_await dm::on_pool([&] {
        while (!release) std::this_thread::yield();
        return ticks.load();
      });
    };
    auto [a, b] = co_await dm::when_all(ticker(), waiter());
    (void)a;
    co_return b;
  };
  EXPECT_GE(dm::block_on(body()), 5);
}

TEST(Task, OnPoolManyConcurrentCallsAllComplete) {
  auto body = []() -> dm::Task<long> {
    long total = 0;
    for (int round = 0; round < 10; ++round) {
      auto [a, b] = co_await dm::when_all(dm::on_pool([round] { return round * 2L; }),
                                          dm::on_pool([round] { return round * 3L; }));
      total += a + b;
    }
    co_return total;
  };
  for (int rep = 0; rep < 10; ++rep) EXPECT_EQ(dm::block_on(body()), 5L * 45);
}

TEST(Task, WhenAllRunsBothConcurrently) {
  // Each side waits for the other to have started: only concurrent execution finishes.
  auto body = []() -> dm::Task<std::tuple<int, std::monostate>> {
    bool a_started = false, b_started = false;
    auto side = [](bool& mine, bool& other, int value) -> dm::Task<int> {
      mine = true;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      for (int i = 0; i < 1000 && !other; ++i) {
        timer.expires_after(std::chrono::microseconds(100));
        co_await timer.async_wait(asio::use_awaitable);
      }
      if (!other) throw std::runtime_error("not concurrent");
      co_return value;
    };
    auto void_side = [&]() -> dm::Task<void> { co_await side(b_started, a_started, 0); };
    co_return co_await dm::when_all(side(a_started, b_started, 7), void_side());
  };
  auto [a, b] = dm::block_on(body());
  EXPECT_EQ(a, 7);
  (void)b;
}

TEST(Task, WhenAllPropagatesEitherException) {
  auto slow = []() -> dm::Task<int> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(2));
    co_await timer.async_wait(asio::use_awaitable);
    co_return 1;
  };
  auto left = [&]() -> dm::Task<std::tuple<std::monostate, int>> { co_return co_await dm::when_all(fail("left"), slow()); };
  auto right = [&]() -> dm::Task<std::tuple<int, std::monostate>> { co_return co_await dm::when_all(slow(), fail("right")); };
  try {
    dm::block_on(left());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "left");
  }
  try {
    dm::block_on(right());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "right");
  }
}

TEST(Task, SpawnRunsOnAnotherThreadsContext) {
  asio::io_context context;
  auto guard = asio::make_work_guard(context);
  std::thread runner([&] { context.run(); });
  std::vector<std::future<int>> results;
  for (int i = 0; i < 20; ++i) results.push_back(dm::spawn(context.get_executor(), add(i, i)));
  auto failing = dm::spawn(context.get_executor(), fail("spawned"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(results[i].get(), 2 * i);
  EXPECT_THROW(failing.get(), std::runtime_error);
  guard.reset();
  runner.join();
}

}  // namespace
