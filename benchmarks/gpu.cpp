// The CUDA backend on GPU 0, case by case as benchmarks/torch_gpu.py times PyTorch on the
// same GPU; benchmarks/gpu_compare.py runs both and prints the ratios.
//
//   bench_gpu --benchmark_min_time=0.1 --benchmark_repetitions=3
//
// Cases (the names are shared with torch_gpu.py, which must keep the same list):
//   gemm/P/MxKxN/L   C = A B with A (M x K), B (K x N), P f32, tf32 (f32 storage, TF32 tensor
//                    cores through dm::cuda::set_matmul_allow_tf32) or bf16 (bf16 operands and
//                    result, f32 accumulation). L says which operand is a transposed view, as
//                    training reads them: nn none, nt B (the forward's x W^T), tn A (the
//                    weight gradient's g^T x). 4096^3, then every product of one training step
//                    of the 784-1024-1024-10 MLP at batch 1024.
//   mlp_step/...     one training step of that MLP (forward, cross-entropy, backward, SGD at
//                    lr 0.01) placed on the GPU as `dm train --device cuda` places it: a
//                    one-stage ModelParallel. The batch already lies on the GPU.
//   elementwise/OP   out-of-place ops on 2^28 f32 (1 GiB an array), output allocated per call
//                    as a user's `a + b` is; bytes count each array read or written once.
//   copy/copy_       Tensor::copy_ between two such arrays; copy/memcpy_d2d: cudaMemcpyAsync
//                    of the same bytes, the bandwidth the elementwise ops are held against.
// Every call ends with a synchronize, so a time is the device's work plus the host's launches.
// Each case's console line is followed by a JSON line with the median seconds per call and
// the flop or bytes of one call (or the error that stopped the case). Without a GPU, or in a
// build without the CUDA backend, it says there is nothing to measure and exits 0.
#include <benchmark/benchmark.h>

#if defined(DM_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/sequential.hpp"
#include "democratising/optim/optimizer.hpp"

namespace {

// Untimed calls before each measurement: cuBLAS's first load and plan, the allocator's first
// blocks for the outputs.
constexpr int kWarmupCalls = 3;
constexpr std::int64_t kElementwiseSize = std::int64_t{1} << 28;

struct Case {
  std::string name;
  double flop = 0.0;   // per call, for GEMMs
  double bytes = 0.0;  // per call, for memory-bound cases
};
std::vector<Case> g_cases;

// Runs a case's body, turning an exception (an op the backend lacks, memory) into a skipped
// case that says why, so the remaining cases still run.
template <class Body>
void guarded(benchmark::State& state, Body body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

struct Gemm {
  std::string precision;  // f32, tf32 or bf16
  std::int64_t m, k, n;
  bool a_transposed, b_transposed;

  std::string name() const {
    return "gemm/" + precision + "/" + std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n) + "/" +
           (a_transposed ? "t" : "n") + (b_transposed ? "t" : "n");
  }
};

// The GEMMs of one training step of 784-1024-1024-10 at batch B = 1024, in the layouts
// training uses, for a layer of `in` -> `out` with input x (B x in), weight W (out x in) and
// output gradient g (B x out): forward x W^T, weight gradient g^T x, input gradient g W (none
// for the first layer; the middle layer's is the same product as its forward, in nn).
std::vector<Gemm> gemms() {
  std::vector<Gemm> out;
  for (const char* precision : {"f32", "tf32", "bf16"}) {
    out.push_back({precision, 4096, 4096, 4096, false, false});
    out.push_back({precision, 1024, 784, 1024, false, true});    // forward, layer 1
    out.push_back({precision, 1024, 1024, 1024, false, true});   // forward, layer 2
    out.push_back({precision, 1024, 1024, 10, false, true});     // forward, layer 3
    out.push_back({precision, 1024, 1024, 784, true, false});    // weight gradient, layer 1
    out.push_back({precision, 1024, 1024, 1024, true, false});   // weight gradient, layer 2
    out.push_back({precision, 10, 1024, 1024, true, false});     // weight gradient, layer 3
    out.push_back({precision, 1024, 1024, 1024, false, false});  // input gradient, layer 2
    out.push_back({precision, 1024, 10, 1024, false, false});    // input gradient, layer 3
  }
  return out;
}

// Sets whether f32 products may use TF32 for the life of one case, and puts back what was set.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool allow) : before_(dm::cuda::matmul_allow_tf32()) { dm::cuda::set_matmul_allow_tf32(allow); }
  ~Tf32Scope() { dm::cuda::set_matmul_allow_tf32(before_); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool before_;
};

// A (rows x cols) operand on GPU 0 in `dtype`; transposed: the transposed view of a
// (cols x rows) tensor, as a weight or a gradient is read in training.
dm::Tensor operand(std::int64_t rows, std::int64_t cols, bool transposed, dm::DType dtype) {
  const dm::Device gpu = dm::Device::cuda(0);
  if (transposed) return dm::Tensor::randn({cols, rows}, gpu).to(dtype).t();
  return dm::Tensor::randn({rows, cols}, gpu).to(dtype);
}

void bench_gemm(benchmark::State& state, Gemm g) {
  const Tf32Scope tf32(g.precision == "tf32");
  guarded(state, [&] {
    const dm::DType dtype = g.precision == "bf16" ? dm::DType::bf16 : dm::DType::f32;
    dm::manual_seed(1);
    const dm::Tensor a = operand(g.m, g.k, g.a_transposed, dtype), b = operand(g.k, g.n, g.b_transposed, dtype);
    for (int i = 0; i < kWarmupCalls; ++i) a.matmul(b).synchronize();
    for (auto _ : state) {
      const dm::Tensor c = a.matmul(b);
      c.synchronize();
    }
  });
}

// The model, optimizer and placement dm train uses for `--model mlp:784-1024-1024-10
// --device cuda`, with the optimizer torch_gpu.py's reference uses (plain SGD, lr 0.01).
void bench_mlp_step(benchmark::State& state, std::int64_t batch) {
  guarded(state, [&] {
    const dm::Device gpu = dm::Device::cuda(0);
    dm::manual_seed(1);
    dm::ModelOptions options;
    options.optimizer = std::make_shared<dm::optim::SGD>(dm::optim::SGDOptions{.lr = 0.01});
    dm::Model model = dm::nn::mlp_from_spec("mlp:784-1024-1024-10").build(options);
    dm::ModelParallel placed(model, {gpu}, dm::ModelParallelOptions{.micro_batches = 1});
    const dm::Tensor x = dm::Tensor::randn({batch, 784}, gpu);
    const dm::Tensor y = dm::Tensor::randint(0, 10, {batch}).to(gpu);
    const auto step = [&] {
      placed.forward(x);
      const dm::Tensor loss = placed.backward(y);
      placed.step();
      loss.synchronize();  // the whole device: the update queued after the loss too
    };
    for (int i = 0; i < kWarmupCalls; ++i) step();
    for (auto _ : state) step();
  });
}

struct Elementwise {
  const char* name;
  int arrays;  // read and written, for the byte count
  dm::Tensor (*op)(const dm::Tensor&, const dm::Tensor&);
};

const std::vector<Elementwise> kElementwise = {
    {"add", 3, [](const dm::Tensor& a, const dm::Tensor& b) { return a + b; }},
    {"mul", 3, [](const dm::Tensor& a, const dm::Tensor& b) { return a * b; }},
    {"mul_scalar", 2, [](const dm::Tensor& a, const dm::Tensor&) { return a * 0.5; }},
    {"relu", 2, [](const dm::Tensor& a, const dm::Tensor&) { return a.relu(); }},
    {"exp", 2, [](const dm::Tensor& a, const dm::Tensor&) { return a.exp(); }},
};

void bench_elementwise(benchmark::State& state, Elementwise e) {
  guarded(state, [&] {
    const dm::Device gpu = dm::Device::cuda(0);
    dm::manual_seed(1);
    const dm::Tensor a = dm::Tensor::randn({kElementwiseSize}, gpu);
    const dm::Tensor b = e.arrays == 3 ? dm::Tensor::randn({kElementwiseSize}, gpu) : dm::Tensor();
    for (int i = 0; i < kWarmupCalls; ++i) e.op(a, b).synchronize();
    for (auto _ : state) {
      const dm::Tensor c = e.op(a, b);  // freed at the end of the call, as torch's is
      c.synchronize();
    }
  });
}

void bench_copy(benchmark::State& state) {
  guarded(state, [&] {
    const dm::Device gpu = dm::Device::cuda(0);
    const dm::Tensor src = dm::Tensor::randn({kElementwiseSize}, gpu);
    dm::Tensor dst = dm::Tensor::empty({kElementwiseSize}, dm::DType::f32, gpu);
    for (int i = 0; i < kWarmupCalls; ++i) dst.copy_(src).synchronize();
    for (auto _ : state) dst.copy_(src).synchronize();
  });
}

#if defined(DM_WITH_CUDA)
// The reference: the runtime's own device-to-device copy, on the default stream our kernels use.
void bench_memcpy(benchmark::State& state) {
  guarded(state, [&] {
    const dm::Device gpu = dm::Device::cuda(0);
    const dm::Tensor src = dm::Tensor::randn({kElementwiseSize}, gpu);
    const dm::Tensor dst = dm::Tensor::empty({kElementwiseSize}, dm::DType::f32, gpu);
    const std::size_t bytes = static_cast<std::size_t>(kElementwiseSize) * sizeof(float);
    const auto copy = [&] {
      const cudaError_t status = cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), bytes, cudaMemcpyDeviceToDevice, nullptr);
      if (status != cudaSuccess) throw dm::DeviceError(std::string("cudaMemcpyAsync: ") + cudaGetErrorString(status));
      dst.synchronize();
    };
    if (cudaSetDevice(gpu.index) != cudaSuccess) throw dm::DeviceError("cudaSetDevice failed");
    for (int i = 0; i < kWarmupCalls; ++i) copy();
    for (auto _ : state) copy();
  });
}

std::string gpu_name() {
  cudaDeviceProp prop{};
  return cudaGetDeviceProperties(&prop, 0) == cudaSuccess ? std::string(prop.name) : std::string("unknown GPU");
}
#else
std::string gpu_name() { return "unknown GPU"; }
#endif

template <class... Args>
void add_case(Case c, Args&&... args) {
  benchmark::RegisterBenchmark(c.name.c_str(), std::forward<Args>(args)...)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  g_cases.push_back(std::move(c));
}

void register_cases() {
  for (const Gemm& g : gemms())
    add_case({g.name(), 2.0 * static_cast<double>(g.m) * static_cast<double>(g.k) * static_cast<double>(g.n)},
             bench_gemm, g);
  add_case({"mlp_step/784-1024-1024-10/batch:1024"}, bench_mlp_step, std::int64_t{1024});
  const double array_bytes = static_cast<double>(kElementwiseSize) * sizeof(float);
  for (const Elementwise& e : kElementwise)
    add_case({std::string("elementwise/") + e.name, 0.0, e.arrays * array_bytes}, bench_elementwise, e);
  add_case({"copy/copy_", 0.0, 2 * array_bytes}, bench_copy);
#if defined(DM_WITH_CUDA)
  add_case({"copy/memcpy_d2d", 0.0, 2 * array_bytes}, bench_memcpy);
#endif
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      out += escaped;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// The usual console lines, cut to one per case (the median when repeated, or the error),
// each followed at once by the case's JSON line, so that a run stopped part way keeps the cases
// it finished.
class CaseReporter : public benchmark::ConsoleReporter {
 public:
  CaseReporter() : ConsoleReporter(OO_Tabular) {}  // no colour codes: the output goes to logs

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const std::string name = r.run_name.function_name;
      const bool aggregate = r.run_type == Run::RT_Aggregate;
      if (r.error_occurred) {
        if (!reported_.insert(name).second) continue;  // every repetition says the same
      } else if (aggregate ? r.aggregate_name != "median" : r.repetitions > 1) {
        continue;
      }
      ConsoleReporter::ReportRuns({r});
      std::cout.flush();
      std::string line = "{\"side\": \"ours\", \"case\": " + json_string(name);
      if (r.error_occurred) {
        line += ", \"error\": " + json_string(r.error_message);
      } else {
        char value[64];
        std::snprintf(value, sizeof value, ", \"seconds\": %.6e",
                      r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit));
        line += value;
      }
      const Case& c = case_named(name);
      char work[96];
      std::snprintf(work, sizeof work, ", \"flop\": %.0f, \"bytes\": %.0f}", c.flop, c.bytes);
      std::printf("%s%s\n", line.c_str(), work);
      std::fflush(stdout);
    }
  }

 private:
  static const Case& case_named(const std::string& name) {
    static const Case unknown;
    for (const Case& c : g_cases)
      if (c.name == name) return c;
    return unknown;
  }
  std::set<std::string> reported_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (dm::cuda::device_count() == 0) {
    std::printf("bench_gpu: no GPU present (%s): nothing to measure\n", dm::cuda::unavailable_reason().c_str());
    return 0;
  }
  std::printf("{\"side\": \"ours\", \"gpu\": %s}\n", json_string(gpu_name()).c_str());
  std::fflush(stdout);
  register_cases();
  CaseReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
