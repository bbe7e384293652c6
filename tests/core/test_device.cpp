// Device: names, CPU devices, and the behaviour of CUDA requests in a build or on a machine
// without a usable GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "core/reference_indexing.hpp"
#include "democratising/democratising.hpp"

using dm::Device;
using dm::Tensor;
using testing::AnyOf;
using testing::HasSubstr;

namespace {
bool cuda_usable() { return dm::cuda::is_built() && dm::cuda::device_count() > 0; }
}  // namespace

TEST(Device, CpuNamesAndEquality) {
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_EQ(Device::cpu(2).str(), "cpu:2");
  EXPECT_TRUE(Device::cpu().is_cpu());
  EXPECT_FALSE(Device::cpu().is_cuda());
  EXPECT_EQ(Device::cpu(), Device::cpu(0));
  EXPECT_NE(Device::cpu(0), Device::cpu(1));
  EXPECT_EQ((Device{dm::DeviceKind::cuda, 3}).str(), "cuda:3");
  std::ostringstream os;
  os << Device::cpu(1);
  EXPECT_EQ(os.str(), "cpu:1");
}

TEST(Device, LogicalCpuDevicesHoldTensorsButDoNotMix) {
  Tensor a = Tensor::zeros({3}, dm::DType::f32, Device::cpu(1));
  EXPECT_EQ(a.device(), Device::cpu(1));
  const Tensor b = Tensor::ones({3});
  EXPECT_THAT(dm_test::error_of<dm::DeviceError>([&] { a.copy_(b); }), HasSubstr("cpu:1"));
  EXPECT_TRUE(b.to(Device::cpu()).shares_storage_with(b));  // already there: no copy
}

TEST(Device, ToAnotherCpuDeviceReportsThatDevice) {
  const Tensor b = dm_test::numbered({2, 3});
  const Tensor moved = b.to(Device::cpu(1));
  EXPECT_EQ(moved.device(), Device::cpu(1));
  EXPECT_EQ(moved.to_vector<double>(), b.to_vector<double>());
  EXPECT_EQ(moved.to(Device::cpu()).device(), Device::cpu());
}

TEST(Device, CudaUnavailableHere) {
  if (cuda_usable()) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_EQ(dm::cuda::device_count(), 0);
  EXPECT_TRUE(Device::cuda_all().empty());
  EXPECT_FALSE(dm::cuda::unavailable_reason().empty());
  const std::string msg = dm_test::error_of<dm::DeviceError>([] { Device::cuda(0); });
  EXPECT_THAT(msg, HasSubstr("[Device::cuda] cuda:0"));
  EXPECT_THAT(msg, AnyOf(HasSubstr("CUDA was not built"), HasSubstr("no CUDA device")));
  if (!dm::cuda::is_built()) {
    EXPECT_THAT(msg, HasSubstr("CUDA was not built"));
  }
}

TEST(Device, TensorsOnAnUnavailableCudaDeviceAreRefused) {
  if (cuda_usable()) GTEST_SKIP() << "a CUDA device is present";
  const Device gpu{dm::DeviceKind::cuda, 0};  // built by hand: Device::cuda(0) would throw
  EXPECT_THROW(Tensor::zeros({2}, dm::DType::f32, gpu), dm::DeviceError);
  EXPECT_THROW(Tensor::randn({2}, gpu), dm::DeviceError);
  EXPECT_THROW(Tensor::ones({2}).to(gpu), dm::DeviceError);
}
