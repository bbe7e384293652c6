// The fused nn ops take their operands from one device: a mix is a DeviceError naming the op
// and both devices, never a silent copy; an absent optional operand (no bias) is no device.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "democratising/democratising.hpp"
#include "democratising/nn/functional.hpp"

namespace {

using dm::Device;
using dm::Tensor;

std::string device_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const dm::DeviceError& e) {
    return e.what();
  }
  return "no DeviceError";
}

TEST(NnOpDevices, MixedDevicesAreADeviceErrorNamingTheOpAndBothDevices) {
  const Device other = Device::cpu(1);
  const Tensor x = Tensor::ones({2, 3});
  const Tensor w = Tensor::ones({4, 3});
  const Tensor b = Tensor::zeros({4});
  const std::string linear = device_error_of([&] { dm::nn::linear(x, w.to(other), b); });
  EXPECT_NE(linear.find("linear"), std::string::npos) << linear;
  EXPECT_NE(linear.find("cpu and cpu:1"), std::string::npos) << linear;
  const std::string bias = device_error_of([&] { dm::nn::linear(x, w, b.to(other)); });
  EXPECT_NE(bias.find("cpu:1"), std::string::npos) << bias;

  const Tensor labels = Tensor::zeros({2}, dm::DType::i64);
  const std::string loss = device_error_of([&] { dm::nn::cross_entropy(Tensor::ones({2, 4}), labels.to(other)); });
  EXPECT_NE(loss.find("cpu:1"), std::string::npos) << loss;
  const std::string norm = device_error_of([&] { dm::nn::layer_norm(x.to(other), {3}, Tensor::ones({3})); });
  EXPECT_NE(norm.find("cpu:1"), std::string::npos) << norm;
}

TEST(NnOpDevices, AnAbsentBiasTakesNoPartAndTheResultStaysOnTheInputsDevice) {
  const Device other = Device::cpu(1);
  const Tensor out = dm::nn::linear(Tensor::ones({2, 3}).to(other), Tensor::ones({4, 3}).to(other));
  EXPECT_EQ(out.device(), other);
  EXPECT_EQ(out.sum().item<float>(), 24.0f);
}

}  // namespace
