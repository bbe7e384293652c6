// SerialExecutor: one thread, one job at a time, in submission order (see the header).
#include "serial_executor.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "democratising/base/error.hpp"

namespace dm::detail {

struct SerialExecutor::State {
  struct Job {
    std::function<void()> run;
    std::function<void(std::exception_ptr)> reject;
  };

  std::size_t capacity = 0;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Job> queue;
  bool running = false;
  bool stopping = false;
  std::exception_ptr closed;  // why, once closed
  std::thread thread;

  // The thread's body: it holds the state by shared_ptr, so a detached thread outlives the
  // executor object safely.
  static void loop(const std::shared_ptr<State>& self) {
    State& s = *self;
    std::unique_lock lock(s.mutex);
    for (;;) {
      s.changed.wait(lock, [&] { return !s.queue.empty() || s.stopping; });
      if (s.queue.empty()) return;  // stopping, with nothing left to run
      Job job = std::move(s.queue.front());
      s.queue.pop_front();
      s.running = true;
      s.changed.notify_all();  // a submitter waiting for room
      lock.unlock();
      job.run();  // delivers its own exception to its future
      job = {};   // the job's captures go before waiters hear it is done
      lock.lock();
      s.running = false;
      s.changed.notify_all();
    }
  }

  // Under the mutex: fails every queued job with the close reason.
  void reject_queued() {
    while (!queue.empty()) {
      Job job = std::move(queue.front());
      queue.pop_front();
      job.reject(closed);
    }
    changed.notify_all();
  }
};

SerialExecutor::SerialExecutor(Options options) : state_(std::make_shared<State>()) {
  state_->capacity = options.capacity;
}

SerialExecutor::~SerialExecutor() {
  std::unique_lock lock(state_->mutex);
  state_->stopping = true;
  state_->changed.notify_all();
  const bool stuck = state_->running && state_->closed;
  lock.unlock();
  if (!state_->thread.joinable()) return;
  if (stuck) {
    state_->thread.detach();  // inside a call that will not return; the process is on its way out
  } else {
    state_->thread.join();  // runs what is queued first: a job may write into memory its caller owns
  }
}

void SerialExecutor::enqueue(std::function<void()> run, std::function<void(std::exception_ptr)> reject) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  if (s.capacity > 0) s.changed.wait(lock, [&] { return s.queue.size() < s.capacity || s.closed; });
  if (s.closed) {
    std::exception_ptr reason = s.closed;
    lock.unlock();
    reject(std::move(reason));
    return;
  }
  s.queue.push_back(State::Job{std::move(run), std::move(reject)});
  if (!s.thread.joinable()) s.thread = std::thread([self = state_] { State::loop(self); });
  s.changed.notify_all();
}

bool SerialExecutor::wait_idle_until(std::chrono::steady_clock::time_point deadline) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  return s.changed.wait_until(lock, deadline, [&] { return s.queue.empty() && !s.running; });
}

void SerialExecutor::close(std::exception_ptr reason) {
  State& s = *state_;
  std::lock_guard lock(s.mutex);
  if (s.closed) return;
  s.closed = reason ? std::move(reason) : std::make_exception_ptr(Error("[SerialExecutor] closed: the job did not run"));
  s.reject_queued();
}

bool SerialExecutor::closed() const {
  std::lock_guard lock(state_->mutex);
  return state_->closed != nullptr;
}

bool SerialExecutor::busy() const {
  std::lock_guard lock(state_->mutex);
  return state_->running;
}

}  // namespace dm::detail
