// AsyncQueue under real threads, for ThreadSanitizer: producers and consumers each drive
// their own io_context on their own thread, and a cancelling consumer keeps abandoning waits
// while items flow. Every item must arrive exactly once, each producer's items in order.
#include <gtest/gtest.h>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "democratising/async/queue.hpp"
#include "democratising/async/task.hpp"

namespace {

TEST(AsyncQueueStress, ThreadsWithCancellingConsumers) {
  constexpr int kProducers = 4, kConsumers = 4, kPerProducer = 400;
  for (int rep = 0; rep < 8; ++rep) {
    dm::AsyncQueue<std::pair<int, int>> q(static_cast<std::size_t>(1 + rep % 4));
    std::vector<std::vector<std::pair<int, int>>> received(kConsumers);
    std::atomic<int> producers_left{kProducers};
    std::atomic<int> timeouts{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back([&, p] {
        auto produce = [&]() -> dm::Task<void> {
          for (int i = 0; i < kPerProducer; ++i) co_await q.push({p, i});
          if (--producers_left == 0) q.close();
        };
        dm::block_on(produce());
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      threads.emplace_back([&, c] {
        auto consume = [&]() -> dm::Task<void> {
          using namespace asio::experimental::awaitable_operators;
          asio::steady_timer timer(co_await asio::this_coro::executor);
          for (;;) {
            if (c % 2 == 0) {
              auto v = co_await q.pop();
              if (!v) co_return;
              received[static_cast<std::size_t>(c)].push_back(*v);
            } else {
              // Half the consumers give up on waits that take longer than 50 us.
              timer.expires_after(std::chrono::microseconds(50));
              auto r = co_await (q.pop() || timer.async_wait(asio::use_awaitable));
              if (r.index() == 1) {
                ++timeouts;
                continue;
              }
              auto& v = std::get<0>(r);
              if (!v) co_return;
              received[static_cast<std::size_t>(c)].push_back(*v);
            }
          }
        };
        dm::block_on(consume());
      });
    }
    for (auto& t : threads) t.join();
    std::vector<std::vector<int>> seen(kProducers, std::vector<int>(kPerProducer, 0));
    for (const auto& list : received) {
      std::vector<int> last(kProducers, -1);
      for (auto [p, i] : list) {
        ASSERT_GT(i, last[static_cast<std::size_t>(p)]);
        last[static_cast<std::size_t>(p)] = i;
        ++seen[static_cast<std::size_t>(p)][static_cast<std::size_t>(i)];
      }
    }
    for (const auto& per : seen)
      for (int count : per) ASSERT_EQ(count, 1);
  }
}

}  // namespace
