// Conv2d forward + backward at the shapes of a small Fashion-MNIST CNN (batch 64; 1 -> 32
// channels 3x3 on 28x28, 32 -> 64 channels 3x3 on 14x14, padding 1), beside one GEMM of the
// same size as each layer's forward product (OC x C*9 times C*9 x N*OH*OW) in the same run.
//
//   bench_conv --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   /usr/bin/python3 benchmarks/torch_conv.py        # PyTorch at the same shapes
//
// A step is what training runs: forward, then the weight and bias gradients, plus the input
// gradient for the second layer (the first layer's input is the image, which needs none).
// FLOPS count 2 * N * OC * OH * OW * C * 9 per product: one forward, one weight gradient and
// (second layer) one input gradient. The table at the end gives conv GFLOPS / GEMM GFLOPS.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "democratising/nn/conv.hpp"
#include "democratising/core/random.hpp"
#include "democratising/runtime/pool.hpp"
#include "democratising/core/tensor.hpp"

namespace {

struct Layer {
  const char* name;
  std::int64_t batch, in_channels, out_channels, size;
  bool input_grad;
  std::int64_t k() const { return in_channels * 9; }
  std::int64_t pixels() const { return batch * size * size; }  // padding 1 keeps the size
  double product_flops() const {
    return 2.0 * static_cast<double>(out_channels) * static_cast<double>(k()) * static_cast<double>(pixels());
  }
  double step_flops() const { return product_flops() * (input_grad ? 3.0 : 2.0); }
};

const std::vector<Layer> kLayers = {
    {"conv1_1x28x28_to_32", 64, 1, 32, 28, false},
    {"conv2_32x14x14_to_64", 64, 32, 64, 14, true},
};

void bench_conv_step(benchmark::State& state, Layer l, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  dm::manual_seed(1);
  dm::Tensor x = dm::Tensor::randn({l.batch, l.in_channels, l.size, l.size});
  dm::Tensor w = dm::Tensor::randn({l.out_channels, l.in_channels, 3, 3}), b = dm::Tensor::randn({l.out_channels});
  const dm::Tensor g = dm::Tensor::randn({l.batch, l.out_channels, l.size, l.size});
  if (l.input_grad) x.set_requires_grad();
  w.set_requires_grad();
  b.set_requires_grad();
  for (auto _ : state) {
    dm::nn::conv2d(x, w, b, 1, 1).backward(g);
    benchmark::DoNotOptimize(w.grad().data_ptr());
    w.set_grad(dm::Tensor());  // each step starts without gradients, as after zero_grad
    b.set_grad(dm::Tensor());
    if (l.input_grad) x.set_grad(dm::Tensor());
    benchmark::ClobberMemory();
  }
  state.counters["FLOPS"] = benchmark::Counter(l.step_flops(), benchmark::Counter::kIsIterationInvariantRate);
}

// The forward product of the layer as one GEMM: (OC x K) * (K x N*OH*OW).
void bench_gemm(benchmark::State& state, Layer l, int threads) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  dm::manual_seed(1);
  const dm::Tensor a = dm::Tensor::rand({l.out_channels, l.k()}), bm = dm::Tensor::rand({l.k(), l.pixels()});
  for (auto _ : state) {
    dm::Tensor c = dm::matmul(a, bm);
    benchmark::DoNotOptimize(c.data_ptr());
    benchmark::ClobberMemory();
  }
  state.counters["FLOPS"] = benchmark::Counter(l.product_flops(), benchmark::Counter::kIsIterationInvariantRate);
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      if (!aggregate && r.repetitions > 1) continue;
      const auto it = r.counters.find("FLOPS");
      if (it != r.counters.end()) gflops_[r.run_name.function_name] = it->second.value / 1e9;
      ms_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
  }

  void print_ratios() const {
    std::printf("\n%-34s %10s %10s %12s %12s %8s\n", "layer / threads", "step ms", "conv GF/s", "GEMM GF/s",
                "GEMM ms", "ratio");
    for (const Layer& l : kLayers)
      for (int threads : {1, 2}) {
        const std::string suffix = std::string(l.name) + "/threads:" + std::to_string(threads);
        const auto conv = gflops_.find("conv_step/" + suffix), gemm = gflops_.find("gemm/" + suffix);
        if (conv == gflops_.end() || gemm == gflops_.end()) continue;
        std::printf("%-34s %10.3f %10.1f %12.1f %12.3f %8.2f\n", suffix.c_str(), ms_.at("conv_step/" + suffix),
                    conv->second, gemm->second, ms_.at("gemm/" + suffix), conv->second / gemm->second);
      }
  }

 private:
  std::map<std::string, double> gflops_, ms_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const Layer& l : kLayers)
    for (int threads : {1, 2}) {
      const std::string suffix = std::string(l.name) + "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("conv_step/" + suffix).c_str(), bench_conv_step, l, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("gemm/" + suffix).c_str(), bench_gemm, l, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
