// Synchronisation and data parallelism, each beside its reference:
//
//   bench_data_parallel --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
//   updates_N/update_batch/threads:2 two threads, each applying 64 updates to N (1M or 8M)
//                                    parameters with one update_batch call (one lock, one pass)
//   updates_N/update_each/threads:2  the reference: the same 64 updates as 64 update() calls,
//                                    each taking the write lock and walking the parameters
//   updates_N/read_floor/threads:2   the memory floor: each thread reading the 64 updates once
//   train/data_parallel/T            784-128-10 MLP, batch 64, DataParallel (shards of 16) on T threads
//   train/train_step/T               the reference: Model::train_step on the whole batch, where
//                                    only the operations inside are parallel (T threads)
// Training reports samples/s as items_per_second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "democratising/model/data_parallel.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/model/parameters.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

constexpr int kUpdates = 64;

// Shared by the benchmark threads: one parameter vector both of them update. Two sizes: 1M
// parameters (4 MB, which stay in a large last-level cache between single updates) and 8M
// (32 MB, which do not, so each single update also streams the parameters through memory).
template <std::int64_t Params>
struct UpdateProblem {
  dm::Parameters params{dm::Tensor::zeros({Params})};
  std::vector<dm::Tensor> updates;
  UpdateProblem() {
    for (int k = 0; k < kUpdates; ++k) updates.push_back(dm::Tensor::full({Params}, 1e-6 * (k + 1)));
  }
  static UpdateProblem& get() {
    static UpdateProblem problem;  // initialised once, thread-safely, by whichever thread comes first
    return problem;
  }
};

template <std::int64_t Params>
void bench_update_batch(benchmark::State& state) {
  auto& p = UpdateProblem<Params>::get();
  for (auto _ : state) p.params.update_batch(p.updates);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kUpdates);
}

template <std::int64_t Params>
void bench_update_each(benchmark::State& state) {
  auto& p = UpdateProblem<Params>::get();
  for (auto _ : state)
    for (const dm::Tensor& u : p.updates) p.params.update(u);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kUpdates);
}

// The floor any way of applying the updates must pay: reading every update once (a sum of all
// their elements on the pool), with no parameters and no lock at all.
template <std::int64_t Params>
void bench_read_floor(benchmark::State& state) {
  auto& p = UpdateProblem<Params>::get();
  for (auto _ : state) {
    double total = 0.0;
    for (const dm::Tensor& u : p.updates) total += u.sum().template item<double>();
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kUpdates);
}

constexpr std::int64_t kBatch = 64, kBatches = 16;

struct TrainProblem {
  dm::Model model;
  dm::Tensor x, y;
};

TrainProblem make_train_problem() {
  dm::manual_seed(5);
  dm::Model model = dm::nn::Sequential()
                        .add(dm::nn::Dense(784, 128))
                        .add(dm::nn::ReLU())
                        .add(dm::nn::Dense(128, 10))
                        .build({.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.01})});
  return {std::move(model), dm::Tensor::randn({kBatch * kBatches, 784}), dm::Tensor::randint(0, 10, {kBatch * kBatches})};
}

template <bool DataParallel>
void bench_train(benchmark::State& state) {
  const int previous = dm::num_threads();
  dm::set_num_threads(static_cast<int>(state.range(0)));
  TrainProblem p = make_train_problem();
  dm::DataParallel trainer(p.model, {.shard_size = 16});
  std::int64_t step = 0;
  for (auto _ : state) {
    const std::int64_t start = (step++ % kBatches) * kBatch;
    const dm::Tensor x = p.x.narrow(0, start, kBatch), y = p.y.narrow(0, start, kBatch);
    dm::Tensor loss = DataParallel ? trainer.train_step(x, y) : p.model.train_step(x, y);
    benchmark::DoNotOptimize(loss);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kBatch);
  dm::set_num_threads(previous);
}

}  // namespace

BENCHMARK(bench_update_batch<1 << 20>)->Name("updates_1M/update_batch")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_update_each<1 << 20>)->Name("updates_1M/update_each")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_read_floor<1 << 20>)->Name("updates_1M/read_floor")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_update_batch<8 << 20>)->Name("updates_8M/update_batch")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_update_each<8 << 20>)->Name("updates_8M/update_each")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_read_floor<8 << 20>)->Name("updates_8M/read_floor")->Threads(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(bench_train<true>)->Name("train/data_parallel")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(bench_train<false>)->Name("train/train_step")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
