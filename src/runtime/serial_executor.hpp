#pragma once
// SerialExecutor: a thread of its own that runs submitted jobs one at a time, in the order they
// were submitted; each submit returns a future that carries the job's result or exception.
//
// For work that must not run on the pool: calls that block (an MPI collective, a pipeline
// stage waiting for its neighbour) would tie up a pool thread, and a small pool would
// deadlock. The thread starts with the first job.
//
// The queue is unbounded, or bounded by Options::capacity: then submit() waits while that many
// jobs wait to start (never submit to a full executor from its own thread). close(reason)
// rejects: jobs still queued, those a full queue held back and every later one fail with
// `reason` without running; a job already running cannot be interrupted and finishes. The
// destructor finishes what is queued (unless closed) and joins; a thread still inside a job of
// a closed executor (a call whose peer went silent) is detached instead, which is safe because
// it shares nothing with the executor object.
#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

namespace dm::detail {

class SerialExecutor {
 public:
  struct Options {
    /// Most jobs waiting to start at once; 0 means no bound.
    std::size_t capacity = 0;
  };

  SerialExecutor() : SerialExecutor(Options{}) {}
  explicit SerialExecutor(Options options);
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  /// Queues fn() behind every job submitted before it.
  template <class F>
  std::future<std::invoke_result_t<std::decay_t<F>&>> submit(F&& fn) {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> result = promise->get_future();
    auto task = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
    enqueue(
        [promise, task] {
          try {
            if constexpr (std::is_void_v<R>) {
              (*task)();
              promise->set_value();
            } else {
              promise->set_value((*task)());
            }
          } catch (...) {
            promise->set_exception(std::current_exception());
          }
        },
        [promise](std::exception_ptr reason) { promise->set_exception(std::move(reason)); });
    return result;
  }

  /// Blocks until no job is queued or running, or until `deadline`: false.
  bool wait_idle_until(std::chrono::steady_clock::time_point deadline);
  /// Rejects queued and later jobs with `reason` (an Error saying the executor is closed when
  /// null). The first reason stays.
  void close(std::exception_ptr reason = nullptr);
  bool closed() const;
  /// Whether a job is running now.
  bool busy() const;

 private:
  struct State;
  void enqueue(std::function<void()> run, std::function<void(std::exception_ptr)> reject);

  std::shared_ptr<State> state_;
};

}  // namespace dm::detail
