// CUDA device enumeration: Device::cuda_all(), dm::cuda::device_count() and Device::cuda(i)
// agree with each other on every machine; with a GPU, each listed device holds tensors and
// copies them back unchanged. Without one, the GPU cases skip and say why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "core/reference_indexing.hpp"
#include "democratising/base/device.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

using dm::Device;
using dm::Tensor;
using testing::AnyOf;
using testing::HasSubstr;

namespace {

std::string why_no_gpu() {
  return "no usable CUDA device (" + dm::cuda::unavailable_reason() + ")";
}

}  // namespace

TEST(CudaDevices, EnumerationAgreesWithTheDeviceCount) {
  const std::vector<Device> all = Device::cuda_all();
  const int n = dm::cuda::device_count();
  ASSERT_GE(n, 0);
  ASSERT_EQ(all.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(all[static_cast<std::size_t>(i)], (Device{dm::DeviceKind::cuda, i}));
    EXPECT_EQ(Device::cuda(i), all[static_cast<std::size_t>(i)]);
    EXPECT_EQ(all[static_cast<std::size_t>(i)].str(), "cuda:" + std::to_string(i));
  }
  if (!dm::cuda::is_built()) {
    EXPECT_EQ(n, 0) << "a build without CUDA sees no device";
  }
  // A reason is given exactly when there is no device.
  EXPECT_EQ(dm::cuda::unavailable_reason().empty(), n > 0);
}

TEST(CudaDevices, MissingDevicesAreDeviceErrorsThatSayWhy) {
  const int n = dm::cuda::device_count();
  const std::string past_end = dm_test::error_of<dm::DeviceError>([&] { Device::cuda(n); });
  EXPECT_THAT(past_end, HasSubstr("cuda:" + std::to_string(n)));
  const std::string negative = dm_test::error_of<dm::DeviceError>([] { Device::cuda(-1); });
  EXPECT_THAT(negative, HasSubstr("cuda:-1"));
  if (n > 0) {
    EXPECT_THAT(past_end, HasSubstr("does not exist (" + std::to_string(n) + " device(s) visible)"));
  } else {
    EXPECT_THAT(past_end, AnyOf(HasSubstr("CUDA was not built"), HasSubstr("no CUDA device")));
    EXPECT_THAT(past_end, HasSubstr(dm::cuda::unavailable_reason()));
  }
}

TEST(CudaDevices, WithoutCudaBuiltTheReasonSaysHowToBuildIt) {
  if (dm::cuda::is_built()) GTEST_SKIP() << "this build includes CUDA";
  EXPECT_THAT(dm::cuda::unavailable_reason(), HasSubstr("-DDM_CUDA=ON"));
  EXPECT_TRUE(Device::cuda_all().empty());
}

TEST(CudaDevices, EveryDeviceHoldsTensorsAndCopiesThemBack) {
  const std::vector<Device> all = Device::cuda_all();
  if (all.empty()) GTEST_SKIP() << why_no_gpu();
  const Tensor host = dm_test::numbered({3, 5});
  for (const Device& gpu : all) {
    const Tensor on_gpu = host.to(gpu);
    EXPECT_EQ(on_gpu.device(), gpu);
    on_gpu.synchronize();
    const Tensor back = on_gpu.to(Device::cpu());
    EXPECT_EQ(back.device(), Device::cpu());
    EXPECT_EQ(back.to_vector<double>(), host.to_vector<double>()) << gpu;
    const Tensor zeros = Tensor::zeros({4}, dm::DType::f32, gpu);
    EXPECT_EQ(zeros.to(Device::cpu()).to_vector<float>(), std::vector<float>(4, 0.0f)) << gpu;
  }
  // Device to device goes through the host when there are two.
  if (all.size() > 1) {
    const Tensor moved = host.to(all[0]).to(all[1]);
    EXPECT_EQ(moved.device(), all[1]);
    EXPECT_EQ(moved.to(Device::cpu()).to_vector<double>(), host.to_vector<double>());
  }
}

TEST(CudaDevices, Tf32IsOffUntilAllowedAndTheSwitchIsProcessWide) {
  ASSERT_FALSE(dm::cuda::matmul_allow_tf32()) << "f32 products must stay f32 unless the user allows TF32";
  dm::cuda::set_matmul_allow_tf32(true);
  bool seen_elsewhere = false;
  std::thread([&] { seen_elsewhere = dm::cuda::matmul_allow_tf32(); }).join();
  dm::cuda::set_matmul_allow_tf32(false);
  EXPECT_TRUE(seen_elsewhere);
  EXPECT_FALSE(dm::cuda::matmul_allow_tf32());
}

TEST(CudaDevices, SynchronizeWaitsForQueuedWorkOrReturnsWithoutAGpu) {
  const std::vector<Device> all = Device::cuda_all();
  std::vector<Tensor> pending;
  for (const Device& gpu : all) pending.push_back(Tensor::ones({1 << 20}, dm::DType::f32, gpu) * 3.0);
  dm::cuda::synchronize();  // no GPU: nothing to wait for, and no error
  for (const Tensor& t : pending) EXPECT_EQ(t.sum().item<float>(), 3.0f * (1 << 20)) << t.device();
}
