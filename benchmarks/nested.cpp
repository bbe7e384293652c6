// Nested parallelism: dm::par_map over 64 matmuls of 256x256 @ 256x256, each matmul itself
// parallel over the same pool, against each level alone and against OpenBLAS's own threads.
//
//   bench_nested --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
//   nested/threads:T     par_map over the 64 products, each tiled over the pool (T threads)
//   outer_only           par_map over the products, each run on its worker alone
//   inner_only           a plain loop over the products, each tiled over the pool
//   openblas_loop/T      a plain loop of cblas_sgemm calls with OpenBLAS's T threads
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/gemm.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace {

constexpr std::int64_t kCount = 64;
constexpr std::int64_t kSize = 256;

using Pair = std::pair<dm::Tensor, dm::Tensor>;

std::vector<Pair> make_problems() {
  dm::manual_seed(7);
  std::vector<Pair> out;
  for (std::int64_t i = 0; i < kCount; ++i)
    out.emplace_back(dm::Tensor::rand({kSize, kSize}), dm::Tensor::rand({kSize, kSize}));
  return out;
}

// One product with every tile on the calling thread (the engine's sequential schedule).
dm::Tensor matmul_on_this_thread(const Pair& p) {
  const std::vector<std::int64_t> zero{0};
  dm::Tensor c = dm::Tensor::empty({kSize, kSize});
  const dm::cpu::GemmOperand<float> a{p.first.data<float>(), zero, false, kSize};
  const dm::cpu::GemmOperand<float> b{p.second.data<float>(), zero, false, kSize};
  dm::cpu::gemm({1, kSize, kSize, kSize}, a, b, c.data<float>(), dm::cpu::GemmSchedule::sequential);
  return c;
}

void set_flops(benchmark::State& state) {
  const double flops = 2.0 * kCount * kSize * kSize * kSize;
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kCount);
}

void bench_nested(benchmark::State& state, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  const std::vector<Pair> problems = make_problems();
  for (auto _ : state) {
    auto out = dm::par_map(problems, [](const Pair& p) { return dm::matmul(p.first, p.second); });
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state);
}

void bench_outer_only(benchmark::State& state, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  const std::vector<Pair> problems = make_problems();
  for (auto _ : state) {
    auto out = dm::par_map(problems, matmul_on_this_thread);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state);
}

void bench_inner_only(benchmark::State& state, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  const std::vector<Pair> problems = make_problems();
  for (auto _ : state) {
    std::vector<dm::Tensor> out;
    out.reserve(problems.size());
    for (const Pair& p : problems) out.push_back(dm::matmul(p.first, p.second));
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state);
}

void bench_openblas_loop(benchmark::State& state, int threads) {
  dm::set_num_threads(1);
  const std::vector<Pair> problems = make_problems();
  std::vector<std::vector<float>> out(problems.size(), std::vector<float>(kSize * kSize));
  openblas_set_num_threads(threads);
  for (auto _ : state) {
    for (std::size_t i = 0; i < problems.size(); ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kSize, kSize, kSize, 1.0f, problems[i].first.data<float>(),
                  kSize, problems[i].second.data<float>(), kSize, 0.0f, out[i].data(), kSize);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  openblas_set_num_threads(1);
  set_flops(state);
}

// Console output plus each benchmark's time (the median when repeated) for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      if (!aggregate && r.repetitions > 1) continue;
      times_ms_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
  }

  void print_summary() const {
    auto ratio = [&](const char* label, const char* slow, const char* fast) {
      const auto s = times_ms_.find(slow), f = times_ms_.find(fast);
      if (s == times_ms_.end() || f == times_ms_.end()) return;
      std::printf("%-52s %9.2f ms / %9.2f ms = %5.2fx\n", label, s->second, f->second, s->second / f->second);
    };
    std::printf("\n");
    ratio("nested: 1 thread vs 2 threads (target >= 1.8x)", "nested/threads:1", "nested/threads:2");
    ratio("2 threads: outer level only vs nested (>= 1.0x)", "outer_only/threads:2", "nested/threads:2");
    ratio("2 threads: inner level only vs nested (>= 1.0x)", "inner_only/threads:2", "nested/threads:2");
    ratio("2 threads: OpenBLAS loop vs nested", "openblas_loop/threads:2", "nested/threads:2");
    ratio("1 thread: OpenBLAS loop vs nested", "openblas_loop/threads:1", "nested/threads:1");
  }

 private:
  std::map<std::string, double> times_ms_;
};

void add(const std::string& name, void (*fn)(benchmark::State&, int), int threads) {
  benchmark::RegisterBenchmark((name + "/threads:" + std::to_string(threads)).c_str(), fn, threads)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  add("nested", bench_nested, 1);
  add("nested", bench_nested, 2);
  add("outer_only", bench_outer_only, 2);
  add("inner_only", bench_inner_only, 2);
  add("openblas_loop", bench_openblas_loop, 1);
  add("openblas_loop", bench_openblas_loop, 2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
