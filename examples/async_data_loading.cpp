// The guide's "Async Data Loading": a prefetching loader is a producer coroutine that loads
// batches and pushes them into a bounded AsyncQueue, whose capacity is the prefetch depth.
// First built by hand, then with dm::data::AsyncDataLoader; both must give exactly the
// batches of the synchronous DataLoader. Then IO is made slow (a sleep per batch) to show the
// loading hidden behind compute.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "democratising/async/queue.hpp"
#include "democratising/async/task.hpp"
#include "democratising/async/dataloader.hpp"
#include "democratising/data/dataloader.hpp"
#include "democratising/data/fashion_mnist.hpp"
#include "example_util.hpp"

namespace {

// [docs:queue-prefetch]
// Loads every batch on the pool and queues it. Once the queue holds its capacity, push waits:
// the producer never runs more than that many batches ahead (back-pressure).
dm::Task<void> prefetch(const dm::data::DataLoader& loader, dm::AsyncQueue<dm::Batch>& queue) {
  try {
    for (std::int64_t i = 0; i < loader.size(); ++i)
      co_await queue.push(co_await dm::on_pool([&] { return loader.batch(i); }));
    queue.close();
  } catch (...) {
    queue.close_with(std::current_exception());  // the consumer's pop() rethrows it
  }
}

dm::Task<std::vector<dm::Batch>> consume(dm::AsyncQueue<dm::Batch>& queue) {
  std::vector<dm::Batch> batches;
  while (auto batch = co_await queue.pop()) batches.push_back(std::move(*batch));
  co_return batches;
}
// [/docs:queue-prefetch]

bool same(const dm::Batch& a, const dm::Batch& b) {
  const auto ax = a.x.to_vector<float>(), bx = b.x.to_vector<float>();
  return ax.size() == bx.size() && std::memcmp(ax.data(), bx.data(), ax.size() * sizeof(float)) == 0 &&
         a.y.to_vector<std::int64_t>() == b.y.to_vector<std::int64_t>();
}

// A dataset whose every batch costs `io` of waiting, like a slow disk or network.
class SlowDataset : public dm::data::Dataset {
 public:
  SlowDataset(dm::data::TensorDataset inner, std::chrono::microseconds io) : inner_(std::move(inner)), io_(io) {}
  std::int64_t size() const override { return inner_.size(); }
  dm::Batch get_batch(const std::vector<std::int64_t>& indices) const override {
    std::this_thread::sleep_for(io_);
    return inner_.get_batch(indices);
  }

 private:
  dm::data::TensorDataset inner_;
  std::chrono::microseconds io_;
};

// Stands in for a training step: `cost` of busy work.
void compute(std::chrono::microseconds cost) {
  const auto until = std::chrono::steady_clock::now() + cost;
  while (std::chrono::steady_clock::now() < until) {
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool small = example::small_run(argc, argv);
  const std::int64_t samples = small ? 640 : 6400;
  const dm::data::FashionMNIST train(dm::data::Split::train);
  const dm::data::TensorDataset subset(train.images().narrow(0, 0, samples), train.labels().narrow(0, 0, samples));
  const dm::data::DataLoader loader(subset, {.batch_size = 64, .shuffle = true, .seed = 7});
  const std::vector<dm::Batch> expected(loader.begin(), loader.end());

  // [docs:queue-prefetch-run]
  dm::AsyncQueue<dm::Batch> queue(4);  // prefetch depth 4
  auto [done, by_hand] = dm::block_on(dm::when_all(prefetch(loader, queue), consume(queue)));
  // [/docs:queue-prefetch-run]
  (void)done;

  // [docs:async-dataloader]
  dm::data::AsyncDataLoader batches(loader, {.prefetch = 4});
  std::vector<dm::Batch> from_library = dm::block_on([&]() -> dm::Task<std::vector<dm::Batch>> {
    std::vector<dm::Batch> out;
    while (auto batch = co_await batches.next()) out.push_back(std::move(*batch));
    co_return out;
  }());
  // [/docs:async-dataloader]

  example::check(by_hand.size() == expected.size() && from_library.size() == expected.size(), "every batch arrived");
  for (std::size_t i = 0; i < expected.size(); ++i) {
    example::check(same(by_hand[i], expected[i]), "hand-made prefetcher keeps the loader's order");
    example::check(same(from_library[i], expected[i]), "AsyncDataLoader keeps the loader's order");
  }
  std::printf("%zu batches, identical to the synchronous loader's\n", expected.size());

  // Slow IO: 2 ms per batch in front of a 3 ms step.
  const auto io = std::chrono::microseconds(2000), step = std::chrono::microseconds(3000);
  const dm::data::DataLoader slow(SlowDataset(subset, io), {.batch_size = 64});
  auto start = std::chrono::steady_clock::now();
  for (const dm::Batch& b : slow) {
    (void)b;
    compute(step);
  }
  const double serial = seconds_since(start);
  start = std::chrono::steady_clock::now();
  dm::data::AsyncDataLoader ahead(slow, {.prefetch = 4});
  dm::block_on([&]() -> dm::Task<void> {
    while (auto b = co_await ahead.next()) co_await dm::on_pool([&] { compute(step); });
  }());
  const double overlapped = seconds_since(start);
  const double compute_only = static_cast<double>(slow.size()) * 0.003;
  std::printf("load then compute: %.3f s; with prefetch: %.3f s; compute alone: %.3f s\n", serial, overlapped, compute_only);
  return 0;
}
