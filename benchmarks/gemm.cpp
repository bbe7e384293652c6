// f32 GEMM: dm::matmul (tiles of single-threaded OpenBLAS on our pool) beside one
// cblas_sgemm call with OpenBLAS's own threads, at the same thread count, in one run.
//
//   bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Each benchmark reports FLOPS (2*M*N*K per call); the table at the end gives ours/OpenBLAS
// from the medians (or the single runs without repetitions).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace {

struct Problem {
  std::int64_t m, k, n;
  std::string name() const { return std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n); }
};

const std::vector<Problem> kProblems = {
    {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},  // square
    {256, 784, 128}, {256, 1024, 1024},                                        // the MLP's layers
};

void set_flops(benchmark::State& state, const Problem& p) {
  const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k);
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(flops));
}

void bench_ours(benchmark::State& state, Problem p, int threads) {
  openblas_set_num_threads(1);  // our tiles call OpenBLAS on its calling thread only
  dm::set_num_threads(threads);
  dm::manual_seed(1);
  const dm::Tensor a = dm::Tensor::rand({p.m, p.k}), b = dm::Tensor::rand({p.k, p.n});
  for (auto _ : state) {
    dm::Tensor c = dm::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  set_flops(state, p);
}

void bench_openblas(benchmark::State& state, Problem p, int threads) {
  dm::set_num_threads(1);  // keep our pool's workers out of OpenBLAS's way
  dm::manual_seed(1);
  const dm::Tensor a = dm::Tensor::rand({p.m, p.k}), b = dm::Tensor::rand({p.k, p.n});
  std::vector<float> c(static_cast<std::size_t>(p.m * p.n));
  openblas_set_num_threads(threads);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
                static_cast<int>(p.k), 1.0f, a.data<float>(), static_cast<int>(p.k), b.data<float>(),
                static_cast<int>(p.n), 0.0f, c.data(), static_cast<int>(p.n));
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  openblas_set_num_threads(1);
  set_flops(state, p);
}

// The GEMMs of one training step of the 784-1024-1024-10 MLP at batch 256, in the layouts
// training uses (weights read through transposed views, no input gradient for the first
// layer), with nothing else: the rate a training step could reach if everything but its
// GEMMs cost nothing. dm train's samples/s times 2 * (these flops) / 256 is compared with it.
void bench_mlp_step_gemms(benchmark::State& state, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  dm::manual_seed(1);
  const std::int64_t batch = 256;
  const std::vector<std::int64_t> sizes{784, 1024, 1024, 10};
  std::vector<dm::Tensor> weights, activations{dm::Tensor::rand({batch, sizes[0]})};
  double flops = 0.0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    weights.push_back(dm::Tensor::rand({sizes[l + 1], sizes[l]}));
    activations.push_back(dm::Tensor::rand({batch, sizes[l + 1]}));
    const double layer = 2.0 * static_cast<double>(batch * sizes[l] * sizes[l + 1]);
    flops += layer * (l == 0 ? 2.0 : 3.0);  // forward, weight gradient, and input gradient past layer 0
  }
  for (auto _ : state) {
    for (std::size_t l = 0; l < weights.size(); ++l)  // forward: x W^T
      benchmark::DoNotOptimize(dm::matmul(activations[l], weights[l].t()).data_ptr());
    for (std::size_t l = weights.size(); l-- > 0;) {
      const dm::Tensor& g = activations[l + 1];  // stands in for the output gradient
      benchmark::DoNotOptimize(dm::matmul(g.t(), activations[l]).data_ptr());  // dW = g^T x
      if (l > 0) benchmark::DoNotOptimize(dm::matmul(g, weights[l]).data_ptr());  // dx = g W
    }
    benchmark::ClobberMemory();
  }
  state.counters["FLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["flop_per_sample"] = flops / static_cast<double>(batch);
}

// Prints the usual console output and keeps each benchmark's time (the median when
// repeated) for the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
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

  void print_ratios() const {
    std::printf("\n%-28s %12s %12s %12s %12s %8s\n", "shape (MxKxN) / threads", "ours GFLOPS", "OpenBLAS", "ours ms",
                "OpenBLAS ms", "ratio");
    for (const Problem& p : kProblems)
      for (int threads : {1, 2}) {
        const std::string key = p.name() + "/threads:" + std::to_string(threads);
        const auto ours = times_ms_.find("gemm/ours/" + key), ref = times_ms_.find("gemm/openblas/" + key);
        if (ours == times_ms_.end() || ref == times_ms_.end()) continue;
        // Times are in the benchmarks' unit (ms); GFLOPS = flops / (ms * 1e6).
        const double flops = 2.0 * static_cast<double>(p.m * p.n * p.k);
        std::printf("%-28s %12.1f %12.1f %12.3f %12.3f %7.1f%%\n", key.c_str(), flops / (ours->second * 1e6),
                    flops / (ref->second * 1e6), ours->second, ref->second, 100.0 * ref->second / ours->second);
      }
  }

 private:
  std::map<std::string, double> times_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const Problem& p : kProblems)
    for (int threads : {1, 2}) {
      const std::string key = p.name() + "/threads:" + std::to_string(threads);
      // Ours right beside the reference, so both see the same machine load.
      benchmark::RegisterBenchmark(("gemm/ours/" + key).c_str(), bench_ours, p, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/openblas/" + key).c_str(), bench_openblas, p, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  benchmark::RegisterBenchmark("gemm/mlp_784-1024-1024-10_step/batch:256/threads:2", bench_mlp_step_gemms, 2)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
