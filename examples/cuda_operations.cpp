// Guide: "CUDA Operations". Runs on cuda:0 when this build and machine have a usable GPU with
// the kernels it needs; otherwise it says why and runs the same code on the CPU.
#include <cmath>
#include <iostream>
#include <vector>

#include <democratising/democratising.hpp>

#include "example_util.hpp"

// [docs:cuda-operations]
dm::Tensor gpu_computation(const dm::Device& device, std::int64_t n) {
  // Allocate on the device.
  dm::Tensor a = dm::Tensor::randn({n, n}, device);
  dm::Tensor b = dm::Tensor::randn({n, n}, device);

  // Operations run in parallel on the device.
  dm::Tensor c = a.matmul(b);

  // Synchronize when needed.
  c.synchronize();
  return c;
}
// [/docs:cuda-operations]

namespace {

// c[i][j] against a plain dot product of the same seeded inputs, made again on the host.
void check_against_naive(const dm::Tensor& c, std::int64_t n, std::uint64_t seed) {
  dm::manual_seed(seed);
  const std::vector<float> a = dm::Tensor::randn({n, n}).to_vector<float>();
  const std::vector<float> b = dm::Tensor::randn({n, n}).to_vector<float>();
  const std::vector<float> got = c.to(dm::Device::cpu()).to_vector<float>();
  for (std::int64_t i = 0; i < n; i += n / 7 + 1) {
    for (std::int64_t j = 0; j < n; j += n / 5 + 1) {
      double dot = 0.0;
      for (std::int64_t k = 0; k < n; ++k) dot += double(a[i * n + k]) * double(b[k * n + j]);
      example::check(std::abs(got[i * n + j] - dot) <= 1e-3 * (1.0 + std::abs(dot)), "c[i][j] is the dot product");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = example::small_run(argc, argv) ? 96 : 1000;
  constexpr std::uint64_t seed = 7;

  // [docs:cuda-device-choice]
  if (dm::Device::cuda_all().empty()) {
    std::cout << "no GPU here (" << dm::cuda::unavailable_reason() << "): running on the CPU\n";
  } else {
    try {
      dm::manual_seed(seed);
      const dm::Tensor c = gpu_computation(dm::Device::cuda(0), n);
      std::cout << "ran on " << c.device() << '\n';
    } catch (const dm::DeviceError& e) {
      std::cout << "cuda:0 cannot run this yet (" << e.what() << "): running on the CPU\n";
    }
  }
  // [/docs:cuda-device-choice]

  dm::manual_seed(seed);
  const dm::Tensor c = gpu_computation(dm::Device::cpu(), n);
  check_against_naive(c, n, seed);
  std::cout << "(" << n << " x " << n << ") product checked on " << c.device() << '\n';
  return 0;
}
