// AsyncQueue: FIFO order, exactly-once delivery under many producers and consumers on
// several threads, back-pressure, close, a producer's exception, cancellation and
// destruction of waiting consumers. Each concurrent scenario runs many times.
#include <gtest/gtest.h>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/system_error.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "democratising/async/queue.hpp"
#include "democratising/async/task.hpp"

namespace {

using namespace std::chrono_literals;

TEST(AsyncQueue, RejectsZeroCapacity) { EXPECT_THROW(dm::AsyncQueue<int>(0), dm::ValueError); }

TEST(AsyncQueue, FifoWithOneProducerAndOneConsumer) {
  for (std::size_t capacity : {1u, 3u, 64u}) {
    dm::AsyncQueue<int> q(capacity);
    auto producer = [&]() -> dm::Task<void> {
      for (int i = 0; i < 500; ++i) co_await q.push(i);
      q.close();
    };
    auto consumer = [&]() -> dm::Task<std::vector<int>> {
      std::vector<int> got;
      while (auto v = co_await q.pop()) {
        EXPECT_LE(q.size(), capacity);
        got.push_back(*v);
      }
      co_return got;
    };
    auto [none, got] = dm::block_on(dm::when_all(producer(), consumer()));
    (void)none;
    ASSERT_EQ(got.size(), 500u);
    for (int i = 0; i < 500; ++i) EXPECT_EQ(got[i], i);
  }
}

TEST(AsyncQueue, PushWaitsWhileFull) {
  dm::AsyncQueue<int> q(2);
  auto body = [&]() -> dm::Task<std::vector<int>> {
    std::vector<int> events;  // >= 0: pushed item; -1: consumer woke and popped
    auto producer = [&]() -> dm::Task<void> {
      for (int i = 0; i < 3; ++i) {
        co_await q.push(i);
        events.push_back(i);
      }
    };
    auto consumer = [&]() -> dm::Task<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(5ms);
      co_await timer.async_wait(asio::use_awaitable);
      // The producer had all the time it wanted but the queue holds only two.
      EXPECT_EQ(q.size(), 2u);
      events.push_back(-1);
      auto v = co_await q.pop();
      EXPECT_EQ(v, 0);
    };
    co_await dm::when_all(producer(), consumer());
    co_return events;
  };
  const std::vector<int> want{0, 1, -1, 2};
  EXPECT_EQ(dm::block_on(body()), want);
  EXPECT_EQ(q.size(), 2u);  // items 1 and 2
}

TEST(AsyncQueue, CloseDrainsThenEnds) {
  dm::AsyncQueue<std::unique_ptr<int>> q(4);
  auto body = [&]() -> dm::Task<int> {
    co_await q.push(std::make_unique<int>(1));
    co_await q.push(std::make_unique<int>(2));
    q.close();
    q.close();  // idempotent
    EXPECT_THROW(co_await q.push(std::make_unique<int>(3)), dm::QueueClosedError);
    int sum = 0;
    while (auto v = co_await q.pop()) sum += **v;
    EXPECT_FALSE((co_await q.pop()).has_value());
    co_return sum;
  };
  EXPECT_EQ(dm::block_on(body()), 3);
  EXPECT_TRUE(q.closed());
}

TEST(AsyncQueue, CloseWakesWaitingConsumersAndProducers) {
  for (int rep = 0; rep < 50; ++rep) {
    dm::AsyncQueue<int> empty(1), full(1);
    auto consumer = [&]() -> dm::Task<bool> { co_return (co_await empty.pop()).has_value(); };
    auto producer = [&]() -> dm::Task<bool> {
      co_await full.push(0);
      try {
        co_await full.push(1);  // full: waits until the close
      } catch (const dm::QueueClosedError&) {
        co_return true;
      }
      co_return false;
    };
    auto closer = [&]() -> dm::Task<void> {
      asio::steady_timer t(co_await asio::this_coro::executor);
      t.expires_after(200us);
      co_await t.async_wait(asio::use_awaitable);
      empty.close();
      full.close();
    };
    auto [waiters, none] = dm::block_on(dm::when_all(dm::when_all(consumer(), producer()), closer()));
    (void)none;
    EXPECT_FALSE(std::get<0>(waiters));
    EXPECT_TRUE(std::get<1>(waiters));
  }
}

TEST(AsyncQueue, ProducerExceptionReachesConsumerAfterDrain) {
  dm::AsyncQueue<int> q(8);
  auto producer = [&]() -> dm::Task<void> {
    try {
      for (int i = 0; i < 3; ++i) co_await q.push(i);
      throw std::runtime_error("disk on fire");
    } catch (...) {
      q.close_with(std::current_exception());
    }
  };
  auto consumer = [&]() -> dm::Task<std::vector<int>> {
    std::vector<int> got;
    try {
      while (auto v = co_await q.pop()) got.push_back(*v);
      ADD_FAILURE() << "ended without the producer's error";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "disk on fire");
    }
    co_return got;
  };
  auto [none, got] = dm::block_on(dm::when_all(producer(), consumer()));
  (void)none;
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_THROW(q.try_pop(), std::runtime_error);
}

// Producers and consumers each run on their own io_context thread.
void run_many_to_many(int producers, int consumers, int per_producer, std::size_t capacity) {
  dm::AsyncQueue<std::pair<int, int>> q(capacity);
  std::vector<std::vector<std::pair<int, int>>> received(static_cast<std::size_t>(consumers));
  std::atomic<int> producers_left{producers};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      dm::block_on([&]() -> dm::Task<void> {
        for (int i = 0; i < per_producer; ++i) co_await q.push({p, i});
        if (--producers_left == 0) q.close();
      }());
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      dm::block_on([&]() -> dm::Task<void> {
        while (auto v = co_await q.pop()) received[static_cast<std::size_t>(c)].push_back(*v);
      }());
    });
  }
  for (auto& t : threads) t.join();
  // Every item exactly once; each consumer sees each producer's items in increasing order.
  std::vector<std::vector<int>> seen(static_cast<std::size_t>(producers), std::vector<int>(static_cast<std::size_t>(per_producer), 0));
  for (const auto& list : received) {
    std::vector<int> last(static_cast<std::size_t>(producers), -1);
    for (auto [p, i] : list) {
      ASSERT_GT(i, last[static_cast<std::size_t>(p)]);
      last[static_cast<std::size_t>(p)] = i;
      ++seen[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
    }
  }
  for (const auto& per : seen)
    for (int count : per) ASSERT_EQ(count, 1);
}

TEST(AsyncQueue, ManyProducersAndConsumersOnThreadsEveryItemOnceInOrder) {
  for (int rep = 0; rep < 20; ++rep) run_many_to_many(4, 3, 300, 1 + rep % 5);
}

TEST(AsyncQueue, CancelledPopLosesNothing) {
  for (int rep = 0; rep < 30; ++rep) {
    dm::AsyncQueue<int> q(4);
    auto body = [&]() -> dm::Task<std::vector<int>> {
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer timer(co_await asio::this_coro::executor);
      timer.expires_after(100us);
      // Nothing is queued yet, so the timer wins and the pop is cancelled.
      auto first = co_await (q.pop() || timer.async_wait(asio::use_awaitable));
      EXPECT_EQ(first.index(), 1u);
      co_await q.push(7);
      co_await q.push(8);
      std::vector<int> got;
      got.push_back(*co_await q.pop());
      got.push_back(*co_await q.pop());
      co_return got;
    };
    EXPECT_EQ(dm::block_on(body()), (std::vector<int>{7, 8}));
  }
}

TEST(AsyncQueue, StoppedConsumerContextDoesNotStarveOthers) {
  for (int rep = 0; rep < 30; ++rep) {
    dm::AsyncQueue<int> q(2);
    // A consumer starts waiting on its own io_context, which is then stopped and destroyed
    // with the coroutine still suspended; its wait is cancelled first so nothing refers to it.
    {
      asio::io_context dead;
      asio::cancellation_signal cancel;
      bool finished = false;
      // Named: a lambda coroutine reads its captures through the lambda, which must outlive it.
      auto wait = [&]() -> dm::Task<void> { co_await q.pop(); };
      asio::co_spawn(dead, wait(),
                     asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr) { finished = true; }));
      // Ready handlers only, however slow the machine: the coroutine is then suspended in pop.
      dead.poll();
      EXPECT_FALSE(finished);
      cancel.emit(asio::cancellation_type::terminal);
      // Returns as soon as the cancelled wait has finished and the context has no work left.
      dead.restart();
      dead.run_for(5s);
      EXPECT_TRUE(finished);
    }
    // A consumer whose context simply stops running keeps a woken wait queued, never an item.
    asio::io_context stalled;
    auto stalled_wait = [&]() -> dm::Task<void> { co_await q.pop(); };
    asio::co_spawn(stalled, stalled_wait(), asio::detached);
    stalled.poll();
    stalled.stop();
    // A live consumer on another thread still receives everything.
    std::thread producer([&] {
      dm::block_on([&]() -> dm::Task<void> {
        for (int i = 0; i < 50; ++i) co_await q.push(i);
        q.close();
      }());
    });
    int count = 0, expected = 0;
    dm::block_on([&]() -> dm::Task<void> {
      while (auto v = co_await q.pop()) {
        EXPECT_EQ(*v, expected++);
        ++count;
      }
    }());
    producer.join();
    EXPECT_EQ(count, 50);
  }
}

TEST(AsyncQueue, DestroyingTheQueueReleasesWaiters) {
  for (int rep = 0; rep < 30; ++rep) {
    auto q = std::make_unique<dm::AsyncQueue<int>>(1);
    asio::io_context context;
    bool ended = false;
    auto consume = [&, s = q.get()]() -> dm::Task<void> {
      auto v = co_await s->pop();
      ended = !v.has_value();
    };
    asio::co_spawn(context, consume(), asio::detached);
    context.run_for(1ms);
    q.reset();  // closes: the waiting consumer sees the end
    context.run();
    EXPECT_TRUE(ended);
  }
}

}  // namespace
