#pragma once
// Coroutines on standalone Asio: Task<T>, co_await, and the glue to ordinary code and the pool.
//
//   dm::Task<int> answer() { co_return co_await dm::on_pool([] { return 6 * 7; }); }
//   int v = dm::block_on(answer());
//
// IO and waiting run on an io_context; compute is handed to the pool with on_pool and awaited,
// so the thread driving the io_context never blocks on it.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>

#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace dm {

/// A lazily started coroutine returning T; co_await it from another Task, or run it with block_on.
template <class T = void>
using Task = asio::awaitable<T>;

namespace detail {

/// What a void result becomes inside tuples and variants.
template <class T>
using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// A unit of work handed to the pool; move-only, since it carries a coroutine's resume handler.
struct PoolJob {
  virtual ~PoolJob() = default;
  /// Must not throw: implementations catch and carry exceptions themselves.
  virtual void run() noexcept = 0;
};

template <class F>
struct PoolJobOf final : PoolJob {
  explicit PoolJobOf(F f) : fn(std::move(f)) {}
  void run() noexcept override { fn(); }
  F fn;
};

/// Queues job for the pool's launcher threads and returns at once.
void submit_to_pool(std::unique_ptr<PoolJob> job);

template <class F>
void submit_to_pool(F fn) {
  submit_to_pool(std::unique_ptr<PoolJob>(new PoolJobOf<F>(std::move(fn))));
}

/// The outcome of a call made on the pool, carried back to the awaiting coroutine.
template <class T>
struct PoolOutcome {
  std::variant<std::monostate, Stored<T>, std::exception_ptr> value;

  Stored<T> take() {
    if (auto* e = std::get_if<std::exception_ptr>(&value)) std::rethrow_exception(*e);
    return std::move(std::get<1>(value));
  }
};

/// A task's value, or the exception it ended with.
template <class T>
using Caught = std::variant<Stored<T>, std::exception_ptr>;

template <class T>
Task<Caught<T>> catching(Task<T> task) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      co_return Caught<T>(std::in_place_index<0>);
    } else {
      co_return Caught<T>(std::in_place_index<0>, co_await std::move(task));
    }
  } catch (...) {
    co_return Caught<T>(std::in_place_index<1>, std::current_exception());
  }
}

template <class T>
Stored<T> unwrap(Caught<T>& c) {
  if (c.index() == 1) std::rethrow_exception(std::get<1>(c));
  return std::move(std::get<0>(c));
}

}  // namespace detail

/// Runs task on a fresh io_context in the calling thread until it finishes; returns its value or
/// rethrows its exception. Use it at the top of a program (or of a thread), never inside a Task.
template <class T>
T block_on(Task<T> task) {
  asio::io_context context;
  std::optional<detail::Stored<T>> result;
  std::exception_ptr error;
  auto body = [&]() -> Task<void> {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      result.emplace();
    } else {
      result.emplace(co_await std::move(task));
    }
  };
  asio::co_spawn(context, body(), [&](std::exception_ptr e) { error = e; });
  context.run();
  if (error) std::rethrow_exception(error);
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

/// Starts task on executor ex without waiting for it. The future gives its value or
/// exception to synchronous code; a Task that needs the value should co_await the task instead.
template <class Executor, class T>
std::future<T> spawn(Executor ex, Task<T> task) {
  return asio::co_spawn(ex, std::move(task), asio::use_future);
}

/// Runs a and b concurrently on the awaiting coroutine's executor, waits for both, and returns
/// both results (std::monostate for a void one). If either throws, the
/// exception reaches the caller once both have ended (a's first if both throw).
template <class A, class B>
Task<std::tuple<detail::Stored<A>, detail::Stored<B>>> when_all(Task<A> a, Task<B> b) {
  using namespace asio::experimental::awaitable_operators;
  // Neither side throws out of catching(), so && never cancels one because of the other.
  auto [ca, cb] = co_await (detail::catching(std::move(a)) && detail::catching(std::move(b)));
  auto va = detail::unwrap<A>(ca);
  auto vb = detail::unwrap<B>(cb);
  co_return std::tuple<detail::Stored<A>, detail::Stored<B>>(std::move(va), std::move(vb));
}

/// Runs fn() on the pool and resumes the awaiting coroutine on its own executor with the result,
/// or rethrows fn's exception there. The io_context thread stays free while fn runs.
/// The io_context of the awaiting coroutine must stay alive until fn has returned.
template <class F>
Task<std::invoke_result_t<F&>> on_pool(F fn) {
  using R = std::invoke_result_t<F&>;
  using Outcome = detail::PoolOutcome<R>;
  auto initiate = [&fn](auto handler) {
    // The guard keeps the awaiting io_context's run() from returning while fn is away.
    auto work = asio::make_work_guard(asio::get_associated_executor(handler));
    detail::submit_to_pool([fn = std::move(fn), handler = std::move(handler), work = std::move(work)]() mutable {
      Outcome out;
      try {
        if constexpr (std::is_void_v<R>) {
          fn();
          out.value.template emplace<1>();
        } else {
          out.value.template emplace<1>(fn());
        }
      } catch (...) {
        out.value.template emplace<2>(std::current_exception());
      }
      auto ex = work.get_executor();
      asio::post(ex, [handler = std::move(handler), out = std::move(out)]() mutable { std::move(handler)(std::move(out)); });
      work.reset();
    });
  };
  Outcome outcome = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(Outcome)>(initiate, asio::use_awaitable);
  if constexpr (std::is_void_v<R>) {
    outcome.take();
  } else {
    co_return outcome.take();
  }
}

}  // namespace dm
