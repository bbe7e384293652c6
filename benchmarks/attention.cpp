// An attention block forward + backward: y = Dense(LayerNorm(x + MultiheadAttention(x))) with
// embed_dim 128, 4 heads, sequence 64, batch 32, the input requiring a gradient as inside a
// network; a step is the forward and the backward of a fixed upstream gradient into every
// parameter and x, exactly what benchmarks/torch_attention.py times with torch.nn modules.
//
//   bench_attention --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   /usr/bin/python3 benchmarks/torch_attention.py build/benchmarks/bench_attention
//
// The second command times PyTorch with the same threads, runs this program and prints the
// ratio of the two. With --torch_ms=<ms> this program prints the ratio to that figure itself.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"
#include "democratising/nn/attention.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/runtime/pool.hpp"

namespace {

constexpr std::int64_t kBatch = 32, kSeq = 64, kEmbed = 128, kHeads = 4;

void bench_block_step(benchmark::State& state, int threads, bool causal) {
  openblas_set_num_threads(1);
  dm::set_num_threads(threads);
  dm::manual_seed(1);
  const dm::nn::MultiheadAttention mha(kEmbed, kHeads, {.causal = causal});
  const dm::nn::LayerNorm norm(dm::Shape{kEmbed});
  const dm::nn::Dense dense(kEmbed, kEmbed);
  dm::Tensor x = dm::Tensor::randn({kBatch, kSeq, kEmbed});
  x.set_requires_grad();
  const dm::Tensor g = dm::Tensor::randn({kBatch, kSeq, kEmbed});
  std::vector<dm::Tensor> params = mha.parameters();
  for (const dm::nn::Module* m : {static_cast<const dm::nn::Module*>(&norm), static_cast<const dm::nn::Module*>(&dense)})
    for (const dm::Tensor& p : m->parameters()) params.push_back(p);
  for (auto _ : state) {
    dense(norm(x + mha(x))).backward(g);
    benchmark::DoNotOptimize(x.grad().data_ptr());
    for (const dm::Tensor& p : params) p.set_grad(dm::Tensor());  // as after zero_grad
    x.set_grad(dm::Tensor());
    benchmark::ClobberMemory();
  }
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(double torch_ms) : torch_ms_(torch_ms) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (aggregate && r.aggregate_name != "median") continue;
      if (!aggregate && r.repetitions > 1) continue;
      ms_[r.run_name.function_name] = r.GetAdjustedRealTime();
    }
  }

  void print_ratios() const {
    if (torch_ms_ <= 0.0) return;
    std::printf("\n%-40s %10s %10s %8s\n", "block step", "ours ms", "torch ms", "ratio");
    for (const auto& [name, ms] : ms_)
      if (name.find("threads:2") != std::string::npos && name.find("causal") == std::string::npos)
        std::printf("%-40s %10.3f %10.3f %8.2f\n", name.c_str(), ms, torch_ms_, ms / torch_ms_);
  }

 private:
  double torch_ms_;
  std::map<std::string, double> ms_;
};

}  // namespace

int main(int argc, char** argv) {
  double torch_ms = 0.0;  // PyTorch's step time at 2 threads, when given
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--torch_ms=", 11) == 0) {
      torch_ms = std::atof(argv[i] + 11);
    } else {
      args.push_back(argv[i]);
    }
  }
  for (int threads : {1, 2})
    for (bool causal : {false, true}) {
      const std::string name = std::string("attention_block_step") + (causal ? "_causal" : "") +
                               "/b32_l64_e128_h4/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(name.c_str(), bench_block_step, threads, causal)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  RatioReporter reporter(torch_ms);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
