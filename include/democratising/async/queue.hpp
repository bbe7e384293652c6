#pragma once
// AsyncQueue<T>: a bounded FIFO between coroutines (and threads).
//
//   dm::AsyncQueue<int> q(8);
//   co_await q.push(1);          // waits while 8 items are queued: back-pressure
//   q.close();                   // or q.close_with(std::current_exception())
//   while (auto v = co_await q.pop()) use(*v);   // nullopt once closed and drained
//
// Producers and consumers may run on different io_contexts and threads. A waiting coroutine
// is only ever woken, never handed an item: it takes the item itself when it resumes, so a
// consumer whose io_context stops or whose wait is cancelled can never swallow an item, and
// every wake-up reaches all waiters, so a dead waiter cannot leave a live one asleep.
// Waits support Asio per-operation cancellation (e.g. `co_await (q.pop() || timer.async_wait(...))`):
// a cancelled wait throws asio::system_error(operation_aborted) and loses nothing.
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/system_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "democratising/async/task.hpp"
#include "democratising/base/error.hpp"

namespace dm {

/// Thrown by push on a closed queue.
class QueueClosedError : public ValueError {
 public:
  using ValueError::ValueError;
};

namespace detail {

/// A suspended coroutine waiting for a queue to change. wake() resumes it on its own executor.
struct QueueWaiter {
  virtual ~QueueWaiter() = default;
  virtual void wake(std::error_code ec) = 0;
};

/// The part of a queue's shared state that does not depend on T: lock, waiters, closed flag.
struct QueueCore {
  enum class Side { pop, push };

  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<QueueWaiter>>> waiting[2];  // indexed by Side
  std::uint64_t next_id = 0;
  bool closed = false;
  std::exception_ptr error;

  /// Removes every waiter of one side; the caller wakes them after unlocking.
  std::vector<std::unique_ptr<QueueWaiter>> take_waiters(Side side) {
    std::vector<std::unique_ptr<QueueWaiter>> out;
    for (auto& [id, w] : waiting[static_cast<int>(side)]) out.push_back(std::move(w));
    waiting[static_cast<int>(side)].clear();
    return out;
  }

  /// Removes one waiter if still present (it may already have been woken).
  std::unique_ptr<QueueWaiter> take_waiter(Side side, std::uint64_t id) {
    auto& list = waiting[static_cast<int>(side)];
    for (auto it = list.begin(); it != list.end(); ++it) {
      if (it->first == id) {
        auto w = std::move(it->second);
        list.erase(it);
        return w;
      }
    }
    return nullptr;
  }

  static void wake_all(std::vector<std::unique_ptr<QueueWaiter>> waiters) {
    for (auto& w : waiters) w->wake({});
  }
};

template <class Handler>
class QueueWaiterOf final : public QueueWaiter {
 public:
  explicit QueueWaiterOf(Handler h)
      : work_(asio::make_work_guard(asio::get_associated_executor(h))), handler_(std::move(h)) {}

  void wake(std::error_code ec) override {
    auto ex = work_.get_executor();
    // The completion runs on the waiter's executor, the only place its cancellation slot is
    // touched, so clearing the slot cannot race with a cancellation being emitted.
    asio::post(ex, [h = std::move(handler_), ec]() mutable {
      auto slot = asio::get_associated_cancellation_slot(h);
      if (slot.is_connected()) slot.clear();
      std::move(h)(ec);
    });
    // Released only once post has returned: post still touches the context after queueing,
    // and without the guard its owner could finish run() and destroy it in between.
    work_.reset();
  }

 private:
  asio::executor_work_guard<asio::associated_executor_t<Handler>> work_;
  Handler handler_;
};

/// Awaits a change of the queue on one side, unless ready() already holds (checked under the
/// lock, so a change between the caller's check and the registration is never missed).
template <class Ready>
Task<void> wait_for_change(std::shared_ptr<QueueCore> core, QueueCore::Side side, Ready ready) {
  auto initiate = [core, side, &ready](auto handler) {
    using H = decltype(handler);
    std::unique_lock lock(core->mutex);
    if (ready()) {
      lock.unlock();
      QueueWaiterOf<H>(std::move(handler)).wake({});
      return;
    }
    const std::uint64_t id = core->next_id++;
    // Connected before the waiter is visible to other threads: once it is, a producer may wake
    // it, and the completion clears this slot on another thread of a multi-threaded context.
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<QueueCore>(core), side, id](asio::cancellation_type) {
        auto c = weak.lock();
        if (!c) return;
        std::unique_ptr<QueueWaiter> w;
        {
          std::lock_guard guard(c->mutex);
          w = c->take_waiter(side, id);
        }
        if (w) w->wake(asio::error::operation_aborted);
      });
    }
    core->waiting[static_cast<int>(side)].emplace_back(id, std::make_unique<QueueWaiterOf<H>>(std::move(handler)));
  };
  co_await asio::async_initiate<const asio::use_awaitable_t<>, void(std::error_code)>(initiate, asio::use_awaitable);
  // A cancellation emitted after the wake-up was posted found no waiter to abort. Honour it
  // here, before the caller takes an item or adds one: whoever cancelled (say, the losing side
  // of `pop() || timer`) will discard our result, and the item with it.
  auto cancel = co_await asio::this_coro::cancellation_state;
  if (cancel.cancelled() != asio::cancellation_type::none) throw asio::system_error(asio::error::operation_aborted);
}

}  // namespace detail

template <class T>
/// A bounded FIFO between coroutines and threads, closable, that carries a producer's
/// exception to the consumer (see the file comment).
class AsyncQueue {
 public:
  /// capacity >= 1 items may wait in the queue; push waits beyond that.
  explicit AsyncQueue(std::size_t capacity) : state_(std::make_shared<State>()) {
    if (capacity < 1) throw ValueError("AsyncQueue: capacity must be at least 1");
    state_->capacity = capacity;
  }
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;
  /// Closes the queue: waiting consumers drain what is left and then see nullopt, waiting
  /// producers get QueueClosedError.
  ~AsyncQueue() { close(); }

  /// Appends v, waiting while the queue is full. Throws QueueClosedError once closed.
  Task<void> push(T v) {
    auto s = state_;  // the frame keeps the state alive even if the queue object goes away
    for (;;) {
      {
        std::unique_lock lock(s->mutex);
        if (s->closed) throw QueueClosedError("AsyncQueue: push on a closed queue");
        if (s->items.size() < s->capacity) {
          s->items.push_back(std::move(v));
          auto consumers = s->take_waiters(Side::pop);
          lock.unlock();
          detail::QueueCore::wake_all(std::move(consumers));
          co_return;
        }
      }
      co_await detail::wait_for_change(s, Side::push, [&] { return s->closed || s->items.size() < s->capacity; });
    }
  }

  /// Non-waiting push: false when full; throws QueueClosedError once closed.
  bool try_push(T& v) {
    std::unique_lock lock(state_->mutex);
    if (state_->closed) throw QueueClosedError("AsyncQueue: push on a closed queue");
    if (state_->items.size() >= state_->capacity) return false;
    state_->items.push_back(std::move(v));
    auto consumers = state_->take_waiters(Side::pop);
    lock.unlock();
    detail::QueueCore::wake_all(std::move(consumers));
    return true;
  }

  /// The oldest item, waiting while the queue is empty; nullopt once closed and drained.
  /// After close_with(e), rethrows e once the items queued before it are drained.
  Task<std::optional<T>> pop() {
    auto s = state_;
    for (;;) {
      {
        std::unique_lock lock(s->mutex);
        if (auto item = take_front(*s, lock)) co_return item;
        if (s->closed) {
          if (s->error) std::rethrow_exception(s->error);
          co_return std::nullopt;
        }
      }
      co_await detail::wait_for_change(s, Side::pop, [&] { return s->closed || !s->items.empty(); });
    }
  }

  /// Non-waiting pop: nullopt when empty (closed or not). Rethrows the close_with error when
  /// closed and drained.
  std::optional<T> try_pop() {
    std::unique_lock lock(state_->mutex);
    if (auto item = take_front(*state_, lock)) return item;
    if (state_->closed && state_->error) std::rethrow_exception(state_->error);
    return std::nullopt;
  }

  /// No more pushes; consumers drain the queue and then see nullopt. Idempotent.
  void close() { close_with(nullptr); }

  /// Closes the queue so that, after draining, pop rethrows error (a producer's failure).
  /// The first close wins.
  void close_with(std::exception_ptr error) {
    std::unique_lock lock(state_->mutex);
    if (state_->closed) return;
    state_->closed = true;
    state_->error = std::move(error);
    auto consumers = state_->take_waiters(Side::pop);
    auto producers = state_->take_waiters(Side::push);
    lock.unlock();
    detail::QueueCore::wake_all(std::move(consumers));
    detail::QueueCore::wake_all(std::move(producers));
  }

  /// Items queued now.
  std::size_t size() const {
    std::lock_guard lock(state_->mutex);
    return state_->items.size();
  }
  /// The most items the queue holds before push waits.
  std::size_t capacity() const { return state_->capacity; }
  /// Whether close() or close_with() was called.
  bool closed() const {
    std::lock_guard lock(state_->mutex);
    return state_->closed;
  }

 private:
  using Side = detail::QueueCore::Side;

  struct State : detail::QueueCore {
    std::deque<T> items;
    std::size_t capacity = 1;
  };

  // Takes the oldest item (lock held on entry, released on return with an item) and wakes
  // the producers waiting for room.
  static std::optional<T> take_front(State& s, std::unique_lock<std::mutex>& lock) {
    if (s.items.empty()) return std::nullopt;
    std::optional<T> item(std::move(s.items.front()));
    s.items.pop_front();
    auto producers = s.take_waiters(Side::push);
    lock.unlock();
    detail::QueueCore::wake_all(std::move(producers));
    return item;
  }

  std::shared_ptr<State> state_;
};

}  // namespace dm
