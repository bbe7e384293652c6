// CUDA kernels on a real device: what the conformance program cannot see. Each test skips,
// naming the reason, where no CUDA device is usable (a build without CUDA, no driver, no GPU).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/cpu/training_kernels.hpp"
#include "democratising/core/tensor.hpp"

namespace {

using namespace dm;

std::string no_gpu_reason() {
  std::string reason;
  return backend::device_count(DeviceKind::cuda, &reason) > 0 ? std::string() : reason;
}

#define REQUIRE_GPU()                                          \
  do {                                                         \
    const std::string why = no_gpu_reason();                   \
    if (!why.empty()) GTEST_SKIP() << "no CUDA device: " << why; \
  } while (0)

const Device kGpu{DeviceKind::cuda, 0};

template <class T>
std::vector<T> to_host(const std::byte* device_data, std::int64_t n) {
  std::vector<T> host(static_cast<std::size_t>(n));
  backend::backend_for(kGpu).copy_to_host(host.data(), device_data, host.size() * sizeof(T), 0, {});
  return host;
}

TEST(CudaDevice, ReductionsGiveTheSameBitsOnEveryRun) {
  REQUIRE_GPU();
  backend::Backend& gpu = backend::backend_for(kGpu);
  const std::int64_t outer = 3, reduce = 100003, inner = 5, n = outer * reduce * inner;
  std::vector<float> x(static_cast<std::size_t>(n));
  cpu::random_normal(reinterpret_cast<std::byte*>(x.data()), DType::f32, n, 11, 0, 0.0, 1.0);
  auto* in = static_cast<std::byte*>(gpu.allocate(x.size() * 4, 0));
  auto* out = static_cast<std::byte*>(gpu.allocate(outer * inner * 4, 0));
  gpu.copy_from_host(in, x.data(), x.size() * 4, 0, {});
  std::vector<float> first;
  for (int run = 0; run < 5; ++run) {
    for (SumKind kind : {SumKind::sum, SumKind::var}) {
      gpu.reduce_sum(kind, in, DType::f32, {outer, reduce, inner}, 1, out);
      const std::vector<float> got = to_host<float>(out, outer * inner);
      if (first.size() < 2 * static_cast<std::size_t>(outer * inner)) {
        first.insert(first.end(), got.begin(), got.end());
      } else {
        const std::size_t at = kind == SumKind::sum ? 0 : static_cast<std::size_t>(outer * inner);
        EXPECT_EQ(std::memcmp(got.data(), first.data() + at, got.size() * 4), 0) << "run " << run;
      }
    }
  }
  gpu.release(in, x.size() * 4, 0);
  gpu.release(out, outer * inner * 4, 0);
}

TEST(CudaDevice, UniformAndIntegerDrawsEqualTheCpusBitwise) {
  REQUIRE_GPU();
  backend::Backend& gpu = backend::backend_for(kGpu);
  const std::int64_t n = 100001;
  auto* buf = static_cast<std::byte*>(gpu.allocate(n * 8, 0));
  std::vector<double> want_d(static_cast<std::size_t>(n));
  cpu::random_uniform(reinterpret_cast<std::byte*>(want_d.data()), DType::f64, n, 42, 9, -1.0, 1.0);
  gpu.random_uniform(buf, DType::f64, n, 42, 9, -1.0, 1.0);
  EXPECT_EQ(std::memcmp(to_host<double>(buf, n).data(), want_d.data(), want_d.size() * 8), 0);
  std::vector<float> want_f(static_cast<std::size_t>(n));
  cpu::random_uniform(reinterpret_cast<std::byte*>(want_f.data()), DType::f32, n, 42, 9, 0.0, 1.0);
  gpu.random_uniform(buf, DType::f32, n, 42, 9, 0.0, 1.0);
  EXPECT_EQ(std::memcmp(to_host<float>(buf, n).data(), want_f.data(), want_f.size() * 4), 0);
  std::vector<std::int64_t> want_i(static_cast<std::size_t>(n));
  cpu::random_int(want_i.data(), n, 42, 9, -3, 17);
  gpu.random_int(reinterpret_cast<std::int64_t*>(buf), n, 42, 9, -3, 17);
  EXPECT_EQ(to_host<std::int64_t>(buf, n), want_i);
  gpu.release(buf, n * 8, 0);
}

TEST(CudaDevice, StridedCopyReachesElementsPast2To31) {
  REQUIRE_GPU();
  // A u8 (2, 2^30 + 3) tensor copied transposed into (2^30 + 3, 2): 2^31 + 6 elements, so the
  // last ones sit past any 32-bit index.
  const std::int64_t cols = (std::int64_t{1} << 30) + 3, n = 2 * cols;
  const Tensor src = Tensor::zeros({2, cols}, DType::u8, kGpu);
  backend::Backend& gpu = backend::backend_for(kGpu);
  auto* base = static_cast<std::byte*>(src.data_ptr());  // the GPU address
  const std::uint8_t marks[2] = {7, 9};
  // Mark the last column of both rows.
  gpu.copy_from_host(base + (cols - 1), &marks[0], 1, 0, {});
  gpu.copy_from_host(base + (n - 1), &marks[1], 1, 0, {});
  auto* dst = static_cast<std::byte*>(gpu.allocate(static_cast<std::size_t>(n), 0));
  const backend::Output out{dst, DType::u8, Shape{cols, 2}, Strides{2, 1}, true};
  const backend::Operand in{base, DType::u8, Strides{1, cols}};
  gpu.copy(out, in);
  const std::vector<std::uint8_t> tail = [&] {
    std::vector<std::uint8_t> t(4);
    gpu.copy_to_host(t.data(), dst + (n - 4), 4, 0, {});
    return t;
  }();
  EXPECT_EQ(tail, (std::vector<std::uint8_t>{0, 0, 7, 9}));
  gpu.release(dst, static_cast<std::size_t>(n), 0);
}

}  // namespace
