// A plain std::thread pool with the same contract as the oneTBB arena, used in ThreadSanitizer
// builds: Debian's libtbb is not instrumented, so TSan cannot see its hand-offs and reports
// every parallel loop as a race. This pool is compiled with our code, so TSan checks it, and
// the library code running on it, for real.
//
// A parallel loop is a Job of fixed blocks claimed through an atomic counter. The caller works
// on its own job until every block is claimed, then waits for the blocks others took; a nested
// loop's caller does the same with its own job, so progress never depends on an idle worker
// and the number of running threads never exceeds the pool size.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "blas_threads.hpp"
#include "democratising/runtime/pool.hpp"
#include "pool_size.hpp"

namespace dm {
namespace {

struct Job {
  std::int64_t n, grain, blocks;
  detail::BlockFn fn;
  void* ctx;
  std::atomic<std::int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::int64_t finished = 0;  // under mutex
  std::exception_ptr error;    // under mutex

  // Claims and runs one block; false when none is left.
  bool run_one() {
    const std::int64_t b = next.fetch_add(1);
    if (b >= blocks) return false;
    std::exception_ptr err;
    if (!failed.load()) {
      try {
        fn(ctx, b * grain, std::min(n, (b + 1) * grain));
      } catch (...) {
        err = std::current_exception();
        failed = true;
      }
    }
    std::lock_guard lock(mutex);
    if (err && !error) error = err;
    if (++finished == blocks) finished_cv.notify_all();
    return true;
  }
};

struct Workers {
  std::mutex mutex;
  std::condition_variable work_cv;
  std::deque<std::shared_ptr<Job>> jobs;
  bool stopping = false;

  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(mutex);
        work_cv.wait(lock, [&] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;  // stopping
        job = jobs.front();
        if (job->next.load() >= job->blocks) {
          jobs.pop_front();
          continue;
        }
      }
      while (job->run_one()) {
      }
    }
  }
};

struct Pool {
  std::mutex mutex;
  std::shared_ptr<Workers> workers;
  std::atomic<int> threads{1};

  Pool() {
    detail::force_single_threaded_blas();
    resize(detail::default_pool_size());
  }

  void resize(int n) {
    std::lock_guard lock(mutex);
    if (workers) {  // let the old workers finish what they hold, then leave
      std::lock_guard wl(workers->mutex);
      workers->stopping = true;
      workers->work_cv.notify_all();
    }
    workers = std::make_shared<Workers>();
    for (int i = 1; i < n; ++i) std::thread([w = workers] { w->loop(); }).detach();
    threads.store(n);
  }

  std::shared_ptr<Workers> current() {
    std::lock_guard lock(mutex);
    return workers;
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: detached workers may outlive static destructors
  return *p;
}

}  // namespace

void set_num_threads(int n) {
  detail::check_pool_size(n);
  if (n == pool().threads.load()) return;
  pool().resize(n);
}

int num_threads() { return pool().threads.load(); }

namespace detail {

void parallel_blocks(std::int64_t n, std::int64_t grain, BlockFn fn, void* ctx) {
  const std::int64_t blocks = (n + grain - 1) / grain;
  if (blocks == 1 || pool().threads.load() == 1) {
    for (std::int64_t b = 0; b < blocks; ++b) fn(ctx, b * grain, std::min(n, (b + 1) * grain));
    return;
  }
  auto job = std::make_shared<Job>();
  job->n = n;
  job->grain = grain;
  job->blocks = blocks;
  job->fn = fn;
  job->ctx = ctx;
  std::shared_ptr<Workers> w = pool().current();
  {
    std::lock_guard lock(w->mutex);
    w->jobs.push_back(job);
  }
  w->work_cv.notify_all();
  while (job->run_one()) {
  }
  std::unique_lock lock(job->mutex);
  job->finished_cv.wait(lock, [&] { return job->finished == job->blocks; });
  if (job->error) std::rethrow_exception(job->error);
}

void parallel_invoke2(TaskFn a, void* ca, TaskFn b, void* cb) {
  struct Pair {
    TaskFn fn[2];
    void* ctx[2];
    std::exception_ptr error[2];
  } pair{{a, b}, {ca, cb}, {}};
  parallel_blocks(2, 1, [](void* p, std::int64_t i, std::int64_t) {
    auto* s = static_cast<Pair*>(p);
    try {
      s->fn[i](s->ctx[i]);
    } catch (...) {
      s->error[i] = std::current_exception();
    }
  }, &pair);
  if (pair.error[0]) std::rethrow_exception(pair.error[0]);
  if (pair.error[1]) std::rethrow_exception(pair.error[1]);
}

}  // namespace detail
}  // namespace dm
