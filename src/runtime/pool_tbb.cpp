// The process-wide pool: one oneTBB arena (pool_threads.cpp stands in under TSan). set_num_threads swaps in a new arena; arenas are
// kept alive for the process's lifetime so work already running on an old one finishes safely.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "democratising/base/error.hpp"
#include "democratising/runtime/pool.hpp"
#include "blas_threads.hpp"
#include "pool_size.hpp"

namespace dm {
namespace {

struct Pool {
  std::mutex mutex;
  std::vector<std::unique_ptr<tbb::task_arena>> arenas;  // every arena ever made; last is current
  std::unique_ptr<tbb::global_control> limit;
  std::atomic<tbb::task_arena*> current{nullptr};
  std::atomic<int> threads{1};

  Pool() {
    detail::force_single_threaded_blas();
    resize(detail::default_pool_size());
  }

  void resize(int n) {
    std::lock_guard lock(mutex);
    // Let TBB run as many workers as asked even past the core count (the user's choice).
    const int hw = tbb::info::default_concurrency();
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, n > hw ? n : hw);
    arenas.push_back(std::make_unique<tbb::task_arena>(n));
    arenas.back()->initialize();
    current.store(arenas.back().get(), std::memory_order_release);
    threads.store(n, std::memory_order_release);
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: worker threads may outlive static destructors
  return *p;
}

}  // namespace

void set_num_threads(int n) {
  detail::check_pool_size(n);
  if (n == pool().threads.load()) return;
  pool().resize(n);
}

int num_threads() { return pool().threads.load(std::memory_order_acquire); }

namespace detail {

void parallel_blocks(std::int64_t n, std::int64_t grain, BlockFn fn, void* ctx) {
  const std::int64_t blocks = (n + grain - 1) / grain;
  Pool& p = pool();
  if (blocks == 1 || p.threads.load(std::memory_order_relaxed) == 1) {
    for (std::int64_t b = 0; b < blocks; ++b) fn(ctx, b * grain, std::min(n, (b + 1) * grain));
    return;
  }
  tbb::task_arena* arena = p.current.load(std::memory_order_acquire);
  arena->execute([&] {
    tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, blocks, 1),
                      [&](const tbb::blocked_range<std::int64_t>& r) {
                        for (std::int64_t b = r.begin(); b < r.end(); ++b) fn(ctx, b * grain, std::min(n, (b + 1) * grain));
                      },
                      tbb::simple_partitioner());
  });
}

void parallel_invoke2(TaskFn a, void* ca, TaskFn b, void* cb) {
  std::exception_ptr ea, eb;
  auto run_a = [&] { try { a(ca); } catch (...) { ea = std::current_exception(); } };
  auto run_b = [&] { try { b(cb); } catch (...) { eb = std::current_exception(); } };
  Pool& p = pool();
  if (p.threads.load(std::memory_order_relaxed) == 1) {
    run_a();
    run_b();
  } else {
    p.current.load(std::memory_order_acquire)->execute([&] {
      tbb::task_group g;
      g.run(run_b);
      run_a();
      g.wait();
    });
  }
  if (ea) std::rethrow_exception(ea);
  if (eb) std::rethrow_exception(eb);
}

}  // namespace detail
}  // namespace dm
