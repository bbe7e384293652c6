// Launcher threads for on_pool. The pool's own API (par_for, join) blocks its caller until the
// work is done, which is exactly what a coroutine's IO thread must not do, so awaited calls are
// queued here and run by launcher threads; any parallel loop inside them runs on the pool.
// There are as many launchers as pool threads, so awaited work can fill the pool but a burst
// of it queues instead of oversubscribing the machine.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "democratising/async/task.hpp"
#include "democratising/runtime/pool.hpp"

namespace dm::detail {
namespace {

struct Launchers {
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<std::unique_ptr<PoolJob>> jobs;
  int idle = 0;
  int started = 0;

  void loop() {
    std::unique_lock lock(mutex);
    for (;;) {
      ++idle;
      ready.wait(lock, [&] { return !jobs.empty(); });
      --idle;
      std::unique_ptr<PoolJob> job = std::move(jobs.front());
      jobs.pop_front();
      lock.unlock();
      job->run();
      job.reset();
      lock.lock();
    }
  }

  void submit(std::unique_ptr<PoolJob> job) {
    std::unique_lock lock(mutex);
    jobs.push_back(std::move(job));
    // Start threads lazily, up to the pool size (at least two, so one long call cannot
    // starve the rest); they live for the process, like the pool's workers.
    const int limit = num_threads() < 2 ? 2 : num_threads();
    if (idle == 0 && started < limit) {
      ++started;
      std::thread([this] { loop(); }).detach();
    }
    lock.unlock();
    ready.notify_one();
  }
};

Launchers& launchers() {
  static Launchers* l = new Launchers();  // never destroyed: detached threads outlive static destructors
  return *l;
}

}  // namespace

void submit_to_pool(std::unique_ptr<PoolJob> job) { launchers().submit(std::move(job)); }

}  // namespace dm::detail
