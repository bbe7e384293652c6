// Reductions beside their references, in one binary:
//   sum of 16M f32 against std::memcpy of 16M f32 (bytes/s: the sum reads 4N bytes, memcpy
//   moves 2 * 4N), with the pool at 1 and at 2 threads;
//   softmax over (256, 1000) f32 against a plain loop of std::exp over the same rows.
// Run with --benchmark_repetitions=5 --benchmark_report_aggregates_only=true and compare
// the ratios, not the absolute figures (the machine is shared).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "democratising/democratising.hpp"

namespace {

constexpr std::int64_t kSumElements = std::int64_t{1} << 24;  // 16M floats, 64 MiB: far past the caches

// Restores the pool size after a benchmark that sets it.
struct PoolSize {
  int saved = dm::num_threads();
  explicit PoolSize(int n) { dm::set_num_threads(n); }
  ~PoolSize() { dm::set_num_threads(saved); }
};

void BM_SumF32(benchmark::State& state) {
  const PoolSize pool(static_cast<int>(state.range(0)));
  const dm::Tensor x = dm::Tensor::randn({kSumElements});
  for (auto _ : state) {
    dm::Tensor s = x.sum();
    benchmark::DoNotOptimize(s.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * kSumElements * 4);
}
BENCHMARK(BM_SumF32)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_MemcpyF32(benchmark::State& state) {
  std::vector<float> src(static_cast<std::size_t>(kSumElements), 1.0f), dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size() * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kSumElements * 4 * 2);
}
BENCHMARK(BM_MemcpyF32)->Unit(benchmark::kMillisecond)->UseRealTime();

constexpr std::int64_t kRows = 256, kCols = 1000;

void BM_SoftmaxF32(benchmark::State& state) {
  const PoolSize pool(static_cast<int>(state.range(0)));
  const dm::Tensor x = dm::Tensor::randn({kRows, kCols});
  for (auto _ : state) {
    dm::Tensor y = x.softmax(1);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * kRows * kCols);
}
BENCHMARK(BM_SoftmaxF32)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();

// The textbook stable softmax, one row after another, with std::exp.
void BM_SoftmaxF32_PlainLoop(benchmark::State& state) {
  const dm::Tensor xt = dm::Tensor::randn({kRows, kCols});
  const std::vector<float> x = xt.to_vector<float>();
  std::vector<float> y(x.size());
  for (auto _ : state) {
    for (std::int64_t r = 0; r < kRows; ++r) {
      const float* in = x.data() + r * kCols;
      float* out = y.data() + r * kCols;
      const float m = *std::max_element(in, in + kCols);
      float s = 0.0f;
      for (std::int64_t c = 0; c < kCols; ++c) s += out[c] = std::exp(in[c] - m);
      for (std::int64_t c = 0; c < kCols; ++c) out[c] /= s;
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kRows * kCols);
}
BENCHMARK(BM_SoftmaxF32_PlainLoop)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
