// World::nccl on a GPU: one rank's collectives through NCCL against plain loops, and the DDP
// trainer on a CUDA model against the same training on the CPU. These need a GPU and
// libnccl.so.2 (scripts/gpu-check runs them on a lent machine); elsewhere they skip and say why.
// One World for the whole process: MPI starts once per process.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/random.hpp"
#include "democratising/distributed/distributed_trainer.hpp"
#include "democratising/distributed/world.hpp"
#include "democratising/model/model.hpp"
#include "democratising/nn/layers.hpp"
#include "democratising/nn/sequential.hpp"

namespace dm::dist {
namespace {

// The process's NCCL World, or why there is none (then the tests skip with it).
World* nccl_world(std::string* why) {
  static std::string reason;
  static std::unique_ptr<World> world = [] {
    if (dm::cuda::device_count() == 0) {
      reason = "no GPU: " + dm::cuda::unavailable_reason();
      return std::unique_ptr<World>();
    }
    try {
      return std::make_unique<World>(World::nccl());
    } catch (const DeviceError& e) {
      reason = e.what();  // NCCL not found, say
      return std::unique_ptr<World>();
    } catch (const DistributedError& e) {
      reason = std::string("MPI could not start: ") + e.what();
      return std::unique_ptr<World>();
    }
  }();
  *why = reason;
  return world.get();
}

#define DM_REQUIRE_NCCL_WORLD(world)                           \
  std::string why_skipped;                                     \
  World* world = nccl_world(&why_skipped);                     \
  if (!world) GTEST_SKIP() << "needs a GPU and NCCL: " << why_skipped

TEST(NcclCuda, OneRankCollectivesThroughWorldLeaveTheValuesAndKeepTheDevice) {
  DM_REQUIRE_NCCL_WORLD(world);
  EXPECT_STREQ(world->transport_name(), "nccl");
  const Device gpu = world->device();
  ASSERT_TRUE(gpu.is_cuda());
  const std::vector<float> values = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f};
  for (Reduction op : {Reduction::Sum, Reduction::Mean, Reduction::Max, Reduction::Min}) {
    for (DType dtype : {DType::f32, DType::f64, DType::bf16}) {
      Tensor t = Tensor::from_vector<float>(values, Shape{5}).to(dtype).to(gpu);
      world->all_reduce(t, op);  // one rank: every reduction is the identity
      EXPECT_EQ(t.device(), gpu);
      EXPECT_EQ(t.to(Device::cpu()).to(DType::f32).to_vector<float>(), values)
          << reduction_name(op) << " " << dtype_name(dtype);
    }
  }
  Tensor started = Tensor::from_vector<float>(values, Shape{5}).to(gpu);
  auto pending = world->start_all_reduce(started, Reduction::Sum);
  pending->wait();
  EXPECT_EQ(started.to(Device::cpu()).to_vector<float>(), values);
  Tensor root = Tensor::from_vector<float>(values, Shape{5}).to(gpu);
  world->broadcast(root, 0);
  EXPECT_EQ(root.to(Device::cpu()).to_vector<float>(), values);
  const Tensor gathered = world->all_gather(root);
  EXPECT_EQ(gathered.shape(), (Shape{1, 5}));
  EXPECT_EQ(gathered.device(), gpu);
  // Host tensors still go over MPI.
  Tensor host = Tensor::from_vector<double>({2.0, 4.0}, Shape{2});
  world->all_reduce(host, Reduction::Mean);
  EXPECT_EQ(host.to_vector<double>(), (std::vector<double>{2.0, 4.0}));
}

TEST(NcclCuda, TensorsOnAnotherGpuAreDeviceErrors) {
  DM_REQUIRE_NCCL_WORLD(world);
  if (dm::cuda::device_count() < 2) GTEST_SKIP() << "needs a second GPU, this machine has one";
  const int other = world->device().index == 0 ? 1 : 0;
  Tensor t = Tensor::ones(Shape{3}, DType::f32, Device::cuda(other));
  EXPECT_THROW(world->all_reduce(t), DeviceError);
}

TEST(NcclCuda, DataParallelOnTheGpuMatchesTheCpuStep) {
  DM_REQUIRE_NCCL_WORLD(world);
  auto make = [] {
    dm::manual_seed(5);
    return nn::Sequential().add(nn::Dense(6, 8)).add(nn::ReLU()).add(nn::Dense(8, 3)).build();
  };
  Model reference = make();
  Model model = make();
  // The GPU copy of the parameters, bound to the optimizer, as dm train --distributed does.
  for (const auto& [name, p] : model.module().named_parameters())
    model.module().replace_parameter(name, p.detach().to(world->device()).detach());
  model.optimizer().bind(model.module().named_parameters());
  DistributedTrainer trainer(model, *world, {.bucket_bytes = 64});
  dm::manual_seed(9);
  const Tensor x = Tensor::randn(Shape{10, 6});
  const Tensor y = Tensor::from_vector<std::int64_t>({0, 1, 2, 0, 1, 2, 0, 1, 2, 0}, Shape{10});
  for (int step = 0; step < 3; ++step) {
    const double expected = reference.train_step(x, y).item<double>();
    const double loss = trainer.train_step(x, y).item<double>();
    // cuBLAS sums in another order than the CPU's GEMM: a few f32 roundings apart.
    EXPECT_NEAR(loss, expected, 1e-4 * (1.0 + std::abs(expected))) << "step " << step;
  }
  const auto want = reference.module().named_parameters();
  const auto got = model.module().named_parameters();
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].second.device(), world->device());
    const auto a = got[i].second.to(Device::cpu()).to_vector<float>();
    const auto b = want[i].second.to_vector<float>();
    for (std::size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-4) << got[i].first << "[" << k << "]";
  }
}

}  // namespace
}  // namespace dm::dist
