// CUDA kernels: Philox fills. Thread b computes counter block b with the CPU's own generator
// and value code (random_blocks.hpp), so a device draw holds the CPU's numbers for the same
// seed, counter range and size (normals up to the last-ulp differences of the device's
// log/sin/cos).
#include <string>

#include "backend/cuda/check.hpp"
#include "backend/cuda/kernels.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/random_blocks.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using random_blocks::Integers;
using random_blocks::Normal;
using random_blocks::Uniform;

template <class T, class Gen>
__global__ void random_kernel(T* out, std::int64_t n, std::int64_t blocks, std::uint64_t seed, std::uint64_t start,
                              Gen gen) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t b = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; b < blocks; b += step)
    random_blocks::fill_block(out, n, b, seed, start, gen);
}

template <class T, class Gen>
void launch(const char* entry, T* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, Gen gen) {
  if (n <= 0) return;
  const std::int64_t blocks = (n + random_values::kPerBlock<T> - 1) / random_values::kPerBlock<T>;
  random_kernel<T, Gen><<<static_cast<unsigned>(grid_blocks(blocks)), kBlockThreads>>>(out, n, blocks, seed, start, gen);
  check_launch(entry);
}

[[noreturn]] void not_floating(DType dtype, const char* entry) {
  throw DTypeError(std::string("[cuda: ") + entry + "] fills f32 or f64, got " + std::string(dtype_name(dtype)));
}

}  // namespace

void random_uniform(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double low,
                    double high) {
  if (dtype == DType::f64) {
    launch("random_uniform", reinterpret_cast<double*>(out), n, seed, start, Uniform<double>{low, high - low});
  } else if (dtype == DType::f32) {
    launch("random_uniform", reinterpret_cast<float*>(out), n, seed, start,
           Uniform<float>{static_cast<float>(low), static_cast<float>(high - low)});
  } else {
    not_floating(dtype, "random_uniform");
  }
}

void random_normal(std::byte* out, DType dtype, std::int64_t n, std::uint64_t seed, std::uint64_t start, double mean,
                   double std) {
  const bool standard = mean == 0.0 && std == 1.0;
  if (dtype == DType::f64) {
    launch("random_normal", reinterpret_cast<double*>(out), n, seed, start, Normal<double>{mean, std, standard});
  } else if (dtype == DType::f32) {
    launch("random_normal", reinterpret_cast<float*>(out), n, seed, start,
           Normal<float>{static_cast<float>(mean), static_cast<float>(std), standard});
  } else {
    not_floating(dtype, "random_normal");
  }
}

void random_int(std::int64_t* out, std::int64_t n, std::uint64_t seed, std::uint64_t start, std::int64_t low,
                std::int64_t high) {
  const auto range = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  launch("random_int", out, n, seed, start, Integers{low, range});
}

}  // namespace dm::cuda_backend::kernels
