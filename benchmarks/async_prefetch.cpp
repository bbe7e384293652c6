// Prefetching hides IO: a loader that waits 2 ms per batch in front of a 3 ms step.
//
//   bench_async_prefetch --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// BM_compute_only is the reference: 32 steps of 3 ms busy work on the pool and no loading.
// BM_load_then_compute iterates the synchronous DataLoader (5 ms a batch). BM_prefetch runs the
// epoch through AsyncDataLoader with the steps awaited via on_pool; with the IO hidden its time
// should be within 1.1x of the reference.
#include <benchmark/benchmark.h>

#include <chrono>
#include <thread>
#include <vector>

#include "democratising/async/task.hpp"
#include "democratising/async/dataloader.hpp"
#include "democratising/data/dataloader.hpp"

namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kBatches = 32, kBatchSize = 64;
constexpr auto kIo = 2ms, kStep = 3ms;

class SlowDataset : public dm::data::Dataset {
 public:
  SlowDataset()
      : inner_(dm::Tensor::from_vector(std::vector<float>(kBatches * kBatchSize * 16, 1.0f), {kBatches * kBatchSize, 16}),
               dm::Tensor::from_vector(std::vector<std::int64_t>(kBatches * kBatchSize, 0))) {}
  std::int64_t size() const override { return inner_.size(); }
  dm::Batch get_batch(const std::vector<std::int64_t>& indices) const override {
    std::this_thread::sleep_for(kIo);  // waiting, as on a disk or a network
    return inner_.get_batch(indices);
  }

 private:
  dm::data::TensorDataset inner_;
};

void step() {
  const auto until = std::chrono::steady_clock::now() + kStep;
  while (std::chrono::steady_clock::now() < until) {
  }
}

void BM_compute_only(benchmark::State& state) {
  for (auto _ : state) {
    dm::block_on([]() -> dm::Task<void> {
      for (std::int64_t i = 0; i < kBatches; ++i) co_await dm::on_pool(step);
    }());
  }
}

void BM_load_then_compute(benchmark::State& state) {
  const dm::data::DataLoader loader(SlowDataset(), {.batch_size = kBatchSize});
  for (auto _ : state) {
    for (const dm::Batch& b : loader) {
      benchmark::DoNotOptimize(b.x.data_ptr());
      step();
    }
  }
}

void BM_prefetch(benchmark::State& state) {
  const dm::data::DataLoader loader(SlowDataset(), {.batch_size = kBatchSize});
  const auto prefetch = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    dm::data::AsyncDataLoader batches(loader, {.prefetch = prefetch});
    dm::block_on([&]() -> dm::Task<void> {
      while (auto b = co_await batches.next()) {
        benchmark::DoNotOptimize(b->x.data_ptr());
        co_await dm::on_pool(step);
      }
    }());
  }
}

}  // namespace

BENCHMARK(BM_compute_only)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);
BENCHMARK(BM_load_then_compute)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);
BENCHMARK(BM_prefetch)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

BENCHMARK_MAIN();
