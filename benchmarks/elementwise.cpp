// Elementwise ops against the memory system: out-of-place add and relu on 16M and 64M f32
// beside memcpy of the same size, and the per-op overhead of a 1x10 add.
//
//   bench_elementwise --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// bytes_per_second counts logical traffic: add reads two arrays and writes one (3*4*N),
// relu and memcpy read one and write one (2*4*N). Two memcpy references run beside ours:
// glibc's memcpy on one thread, and the same memcpy split over the pool in our block size
// (what two cores can move). benchmarks/torch_elementwise.py times PyTorch on the same ops.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/strided_loop.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace {

dm::Tensor filled(const dm::Shape& shape, float start) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i % 1000) * 0.001f - 0.5f;
  return dm::Tensor::from_vector(v, shape);
}

void set_bytes(benchmark::State& state, std::int64_t bytes_per_call) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * bytes_per_call);
}

void BM_add(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const dm::Tensor a = filled({n}, 0.0f), b = filled({n}, 1.0f);
  (void)a.add(b);  // warm-up: the output's block is then reused from the allocator's cache
  for (auto _ : state) {
    dm::Tensor c = a.add(b);
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 3 * 4 * n);
}

void BM_relu(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const dm::Tensor a = filled({n}, 0.0f);
  (void)a.relu();  // warm-up: the output's block is then reused from the allocator's cache
  for (auto _ : state) {
    dm::Tensor c = a.relu();
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * 4 * n);
}

// Reference: one glibc memcpy of n floats into a buffer that is already mapped.
void BM_memcpy(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::vector<float> src(static_cast<std::size_t>(n), 1.0f), dst(static_cast<std::size_t>(n), 0.0f);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), static_cast<std::size_t>(n) * sizeof(float));
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * 4 * n);
}

// Reference: the same copy in the elementwise block size on the pool (both cores).
void BM_memcpy_pool(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  std::vector<float> src(static_cast<std::size_t>(n), 1.0f), dst(static_cast<std::size_t>(n), 0.0f);
  for (auto _ : state) {
    dm::par_for(n, dm::kElementwiseGrain, [&](std::int64_t b, std::int64_t e) {
      std::memcpy(dst.data() + b, src.data() + b, static_cast<std::size_t>(e - b) * sizeof(float));
    });
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, 2 * 4 * n);
}

// Per-op overhead: checks, output allocation and dispatch dominate a 1x10 add.
void BM_add_1x10(benchmark::State& state) {
  const dm::Tensor a = filled({1, 10}, 0.0f), b = filled({1, 10}, 1.0f);
  for (auto _ : state) {
    dm::Tensor c = a.add(b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
}

constexpr std::int64_t k16M = std::int64_t{1} << 24;
constexpr std::int64_t k64M = std::int64_t{1} << 26;

BENCHMARK(BM_add)->Arg(k16M)->Arg(k64M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_relu)->Arg(k16M)->Arg(k64M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy)->Arg(k16M)->Arg(k64M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_memcpy_pool)->Arg(k16M)->Arg(k64M)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_add_1x10)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
