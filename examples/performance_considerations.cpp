// Guide: "Performance Considerations". (1) Choose the parallelism that fits the work: dm::join
// runs CPU-bound functions on the pool, dm::when_all awaits IO-bound tasks on the io_context.
// (2) Minimise synchronisation: update_batch takes the write lock once and walks the
// parameters once, where a loop of update() locks and walks them once per gradient.
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <democratising/async/task.hpp>
#include <democratising/democratising.hpp>
#include <democratising/model/parameters.hpp>

#include "example_util.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Stands in for a request that spends its time waiting, not computing.
dm::Task<std::string> fetch(std::string name, std::chrono::milliseconds latency) {
  asio::steady_timer timer(co_await asio::this_coro::executor, latency);
  co_await timer.async_wait(asio::use_awaitable);
  co_return name;
}

dm::Task<std::pair<std::string, std::string>> fetch_both(std::chrono::milliseconds latency) {
  // [docs:performance-when-all]
  // IO-bound: await both on the io_context; the waits overlap.
  auto [first, second] = co_await dm::when_all(fetch("shard-0", latency), fetch("shard-1", latency));
  // [/docs:performance-when-all]
  co_return std::pair{first, second};
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t n = small ? 128 : 512;
  const dm::Tensor a = dm::Tensor::randn({n, n}), b = dm::Tensor::randn({n, n});

  // [docs:performance-join]
  // CPU-bound: run both on the pool.
  auto [ab, ba] = dm::join([&] { return a.matmul(b); }, [&] { return b.matmul(a); });
  // [/docs:performance-join]
  example::check(ab.shape() == std::vector<std::int64_t>{n, n} && ba.shape() == std::vector<std::int64_t>{n, n},
                 "join returns both products");
  example::check(std::abs(ab.sum().item<float>() - a.matmul(b).sum().item<float>()) < 1e-3f * (1 + std::abs(ab.sum().item<float>())),
                 "join's first result is a.matmul(b)");

  const auto latency = std::chrono::milliseconds(small ? 20 : 100);
  const auto io_start = Clock::now();
  const auto [first, second] = dm::block_on(fetch_both(latency));
  const double io_ms = ms_since(io_start);
  example::check(first == "shard-0" && second == "shard-1", "when_all returns both results in order");
  std::cout << "when_all: two waits of " << latency.count() << " ms took " << io_ms << " ms\n";

  // Many gradients for one flat parameter vector.
  const std::int64_t numel = small ? (1 << 16) : (1 << 20);
  const int count = small ? 16 : 64;
  std::vector<dm::Tensor> gradients;
  for (int k = 0; k < count; ++k) gradients.push_back(dm::Tensor::randn({numel}) * 1e-3);
  const dm::Tensor initial = dm::Tensor::randn({numel});

  dm::Parameters parameters(initial);
  auto start = Clock::now();
  // [docs:performance-update-batch]
  // Good: batch the updates: one lock, one pass over the parameters.
  std::vector<dm::Tensor> updates;
  for (const dm::Tensor& grad : gradients) updates.push_back(grad);
  parameters.update_batch(updates);
  // [/docs:performance-update-batch]
  const double batched_ms = ms_since(start);

  dm::Parameters one_by_one(initial);
  start = Clock::now();
  {
    dm::Parameters& parameters = one_by_one;
    // [docs:performance-update-each]
    // Bad: frequent locking.
    for (const dm::Tensor& grad : gradients) {
      parameters.update(grad);  // lock for each update
    }
    // [/docs:performance-update-each]
  }
  const double single_ms = ms_since(start);

  // Same additions in the same order: the two results are bitwise equal.
  example::check(parameters.snapshot().to_vector<float>() == one_by_one.snapshot().to_vector<float>(),
                 "update_batch equals the same updates one by one");
  std::cout << count << " updates of " << numel << " parameters: update_batch " << batched_ms << " ms, update() each "
            << single_ms << " ms\n";
  return 0;
}
