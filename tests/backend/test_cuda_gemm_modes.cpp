// The GPU's matrix-product modes against the CPU: bf16 multiplied natively on the tensor cores
// (f32 accumulation, one rounding) and f32 on TF32 tensor cores only when the user allows it.
// Each test skips, naming the reason, where no CUDA device is usable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "democratising/base/device.hpp"
#include "democratising/core/random.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using namespace dm;

#define REQUIRE_GPU()                                                                     \
  do {                                                                                    \
    if (dm::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << dm::cuda::unavailable_reason(); \
  } while (0)

// Restores the process-wide TF32 switch however a test ends.
struct Tf32Scope {
  bool was = dm::cuda::matmul_allow_tf32();
  explicit Tf32Scope(bool allow) { dm::cuda::set_matmul_allow_tf32(allow); }
  ~Tf32Scope() { dm::cuda::set_matmul_allow_tf32(was); }
};

// Largest |got - want| relative to the sum of |a_ik * b_kj| behind each element: the scale
// every rounding of the product is proportional to.
double worst_relative_error(const Tensor& a, const Tensor& b, const Tensor& got_t) {
  const Tensor a64 = a.to(Device::cpu()).to(DType::f64), b64 = b.to(Device::cpu()).to(DType::f64);
  const std::vector<double> av = a64.contiguous().to_vector<double>(), bv = b64.contiguous().to_vector<double>();
  const std::vector<double> got = got_t.to(Device::cpu()).to(DType::f64).contiguous().to_vector<double>();
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  double worst = 0.0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0.0, scale = 0.0;
      for (std::int64_t p = 0; p < k; ++p) {
        sum += av[i * k + p] * bv[p * n + j];
        scale += std::abs(av[i * k + p] * bv[p * n + j]);
      }
      worst = std::max(worst, std::abs(got[i * n + j] - sum) / scale);
    }
  return worst;
}

TEST(CudaGemmModes, Tf32IsOffByDefaultAndF32StaysExactToF32Rounding) {
  REQUIRE_GPU();
  ASSERT_FALSE(dm::cuda::matmul_allow_tf32());
  manual_seed(3);
  const Device gpu = Device::cuda(0);
  const Tensor a = Tensor::randn({64, 512}, gpu), b = Tensor::randn({512, 48}, gpu);
  // f32 accumulation over k = 512: well under 1e-5 of the magnitudes summed.
  EXPECT_LT(worst_relative_error(a, b, a.matmul(b)), 1e-5);
}

TEST(CudaGemmModes, AllowingTf32RoundsTheInputsToTenMantissaBits) {
  REQUIRE_GPU();
  manual_seed(4);
  const Device gpu = Device::cuda(0);
  const Tensor a = Tensor::randn({64, 512}, gpu), b = Tensor::randn({512, 48}, gpu);
  const Tensor exact = a.matmul(b);
  Tensor fast;
  {
    Tf32Scope tf32(true);
    fast = a.matmul(b);
  }
  // TF32 keeps 10 mantissa bits: each input is off by up to 2^-11, each product by about 2^-10.
  const double err = worst_relative_error(a, b, fast);
  EXPECT_LT(err, 2e-3);
  EXPECT_GT(err, 1e-5) << "the product is as exact as f32: TF32 was not used";
  EXPECT_FALSE(dm::cuda::matmul_allow_tf32());
  // Switched off again, the same product is f32's again.
  EXPECT_EQ(a.matmul(b).to(Device::cpu()).to_vector<float>(), exact.to(Device::cpu()).to_vector<float>());
}

TEST(CudaGemmModes, Bf16ProductsAreTheF32ProductRoundedOnce) {
  REQUIRE_GPU();
  manual_seed(5);
  const Device gpu = Device::cuda(0);
  const Tensor a = Tensor::randn({32, 256}).to(DType::bf16), b = Tensor::randn({256, 40}).to(DType::bf16);
  const Tensor on_gpu = a.to(gpu).matmul(b.to(gpu));
  ASSERT_EQ(on_gpu.dtype(), DType::bf16);
  ASSERT_EQ(on_gpu.device(), gpu);
  // The CPU widens to f32, multiplies and rounds once; the tensor cores accumulate in f32 in
  // another order, so a result may land one bf16 step (2^-8 relative) to the other side.
  const std::vector<float> want = a.matmul(b).to(DType::f32).to_vector<float>();
  const std::vector<float> got = on_gpu.to(Device::cpu()).to(DType::f32).to_vector<float>();
  ASSERT_EQ(got.size(), want.size());
  int differing = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::abs(got[i] - want[i]), std::abs(want[i]) * 0x1p-7f + 1e-6f) << "element " << i;
    differing += got[i] != want[i];
  }
  EXPECT_LT(differing, static_cast<int>(got.size()) / 10) << "more than rounding separates the two";
}

TEST(CudaGemmModes, Bf16GradientsFlowThroughTheNativeProduct) {
  REQUIRE_GPU();
  manual_seed(6);
  const Device gpu = Device::cuda(0);
  Tensor a = Tensor::randn({16, 32}).to(DType::bf16).to(gpu);
  Tensor b = Tensor::randn({32, 8}).to(DType::bf16).to(gpu);
  a.set_requires_grad();
  b.set_requires_grad();
  a.matmul(b).sum().backward();
  ASSERT_EQ(a.grad().dtype(), DType::bf16);
  // d(sum)/da = ones @ b^T: each row of a's gradient is b's row sums.
  const std::vector<float> row_sums = b.to(Device::cpu()).to(DType::f32).sum({1}).to_vector<float>();
  const std::vector<float> ga = a.grad().to(Device::cpu()).to(DType::f32).to_vector<float>();
  for (std::size_t i = 0; i < ga.size(); ++i)
    EXPECT_NEAR(ga[i], row_sums[i % 32], std::abs(row_sums[i % 32]) * 0x1p-7f + 1e-2f) << "element " << i;
}

}  // namespace
