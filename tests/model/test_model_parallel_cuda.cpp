// ModelParallel over GPUs: the same pipeline as over CPU devices, its hand-offs between GPUs
// asynchronous copies ordered by events (backend/cuda/peer_copy.cpp). Training equals the CPU
// run, a copy's source can be freed and reused at once, and a copy overlaps the source's next
// computation. These need GPUs (one, or two for the cross-GPU cases) and skip saying so.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <cmath>
#include <string>

#include "democratising/base/device.hpp"
#include "democratising/core/random.hpp"
#include "democratising/model/model.hpp"
#include "democratising/model/model_parallel.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"
#include "model_test_util.hpp"

namespace {

using dm::Device;
using dm::Model;
using dm::ModelParallel;
using dm::Tensor;
namespace nn = dm::nn;

Model make_model(std::uint64_t seed) {
  dm::manual_seed(seed);
  return Model(std::make_shared<nn::Sequential>(nn::mlp_from_spec("mlp:6-12-10-8-3")));
}

#define DM_REQUIRE_GPUS(n)                                                                                   \
  if (dm::cuda::device_count() < (n))                                                                        \
  GTEST_SKIP() << "needs " << (n) << " GPU(s), this machine has " << dm::cuda::device_count()             \
               << (dm::cuda::device_count() == 0 ? ": " + dm::cuda::unavailable_reason() : std::string())

void expect_pipeline_equals_cpu(const std::vector<Device>& devices) {
  Model reference = make_model(11);
  Model model = make_model(11);
  const auto data = model_test::blobs(26, 6, 3, 5);
  ModelParallel mp(model, devices, {.micro_batches = 4});
  for (int step = 0; step < 5; ++step) {
    const double expected = reference.train_step(data.x, data.y).item<double>();
    const Tensor out = mp.forward(data.x);
    EXPECT_EQ(out.device(), devices.back());
    const double loss = mp.backward(data.y).to(Device::cpu()).item<double>();
    mp.step();
    // cuBLAS adds the products in another order than the CPU's GEMM: f32 roundings apart.
    EXPECT_NEAR(loss, expected, 1e-4 * (1.0 + std::abs(expected))) << "step " << step;
  }
  mp.sync_to_model();
  const auto want = reference.module().named_parameters();
  const auto got = model.module().named_parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto a = got[i].second.to(Device::cpu()).to_vector<float>();
    const auto b = want[i].second.to_vector<float>();
    for (std::size_t k = 0; k < a.size(); ++k) ASSERT_NEAR(a[k], b[k], 1e-4) << got[i].first << "[" << k << "]";
  }
}

TEST(ModelParallelCuda, TwoStagesOnOneGpuEqualTheCpuRun) {
  DM_REQUIRE_GPUS(1);
  expect_pipeline_equals_cpu({Device::cuda(0), Device::cuda(0)});
}

TEST(ModelParallelCuda, TwoGpusEqualTheCpuRun) {
  DM_REQUIRE_GPUS(2);
  expect_pipeline_equals_cpu({Device::cuda(0), Device::cuda(1)});
}

TEST(ModelParallelCuda, ACopysSourceMayBeFreedAndReusedAtOnce) {
  DM_REQUIRE_GPUS(2);
  const std::int64_t n = std::int64_t{1} << 24;  // 64 MiB: the copy outlasts the next kernels' launch
  Tensor copied;
  {
    const Tensor source = Tensor::ones(dm::Shape{n}, dm::DType::f32, Device::cuda(0)) * 3.0;
    copied = source.to(Device::cuda(1));
  }  // the source goes back to cuda:0's pool while the copy may still read it
  const Tensor reused = Tensor::zeros(dm::Shape{n}, dm::DType::f32, Device::cuda(0));
  EXPECT_EQ(copied.device(), Device::cuda(1));
  EXPECT_DOUBLE_EQ(copied.sum().to(Device::cpu()).item<double>(), 3.0 * static_cast<double>(n));
  EXPECT_DOUBLE_EQ(reused.sum().to(Device::cpu()).item<double>(), 0.0);
}

TEST(ModelParallelCuda, ACopyOverlapsTheSourcesNextComputation) {
  DM_REQUIRE_GPUS(2);
  using Clock = std::chrono::steady_clock;
  const std::int64_t n = std::int64_t{1} << 26;  // 256 MiB
  const Tensor big = Tensor::ones(dm::Shape{n}, dm::DType::f32, Device::cuda(0));
  const Tensor a = Tensor::randn(dm::Shape{2048, 2048}, dm::DType::f32, Device::cuda(0));
  auto compute = [&] {
    Tensor x = a;
    for (int i = 0; i < 8; ++i) x = x.matmul(a) * 1e-3;
    return x;
  };
  auto seconds = [](Clock::time_point from) { return std::chrono::duration<double>(Clock::now() - from).count(); };
  compute().synchronize();  // warm up cuBLAS
  auto t = Clock::now();
  Tensor alone = big.to(Device::cuda(1));
  alone.synchronize();
  const double copy_time = seconds(t);
  t = Clock::now();
  compute().synchronize();
  const double compute_time = seconds(t);
  t = Clock::now();
  Tensor copied = big.to(Device::cuda(1));
  const Tensor result = compute();
  result.synchronize();
  copied.synchronize();
  const double both = seconds(t);
  // Serialised, both would take the sum; overlapped, about the longer one.
  EXPECT_LT(both, 0.9 * (copy_time + compute_time))
      << "copy " << copy_time << " s, compute " << compute_time << " s, together " << both << " s";
}

}  // namespace
