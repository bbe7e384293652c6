// CUDA kernels: strided copies with dtype conversion, and fills.
#include <cstring>

#include "backend/cuda/elementwise_map.cuh"
#include "backend/cuda/kernels.hpp"
#include "base/dispatch.hpp"

namespace dm::cuda_backend::kernels {
namespace {

// Copies in the C++ type that holds out's values exactly (bf16 as f32, bool as bool), so the
// only rounding is the one store() makes into out's dtype.
template <class T>
struct Pass {
  __host__ __device__ T operator()(T v) const { return v; }
};

// Writes one element's bytes (the value already converted on the host) everywhere in out.
template <class Bits>
__global__ void fill_kernel(StridedIndex<1> idx, Bits* out, Bits value, std::int64_t n) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    std::int64_t off[1];
    idx.offsets(i, off);
    out[off[0]] = value;
  }
}

template <class Bits>
void launch_fill(const Output& out, const void* value) {
  Bits bits;
  std::memcpy(&bits, value, sizeof bits);
  const std::int64_t n = out.shape.numel();
  const Strides* strides[1] = {&out.strides};
  fill_kernel<Bits><<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(
      make_strided_index<1>(out.shape, strides), reinterpret_cast<Bits*>(out.data), bits, n);
  check_launch("fill");
}

}  // namespace

void copy(const Output& out, const Operand& src) {
  const backend::Operand* const in[1] = {&src};
  switch (out.dtype) {
    case DType::f32: case DType::bf16: return map<float, float, 1>("copy", out, in, Pass<float>{});
    case DType::f64: return map<double, double, 1>("copy", out, in, Pass<double>{});
    case DType::i32: return map<std::int32_t, std::int32_t, 1>("copy", out, in, Pass<std::int32_t>{});
    case DType::i64: return map<std::int64_t, std::int64_t, 1>("copy", out, in, Pass<std::int64_t>{});
    case DType::u8: return map<std::uint8_t, std::uint8_t, 1>("copy", out, in, Pass<std::uint8_t>{});
    case DType::boolean: return map<bool, bool, 1>("copy", out, in, Pass<bool>{});
  }
}

void fill(const Output& out, double value) {
  if (out.shape.numel() == 0) return;
  // The value is converted once, by the CPU's rules, and its bytes stored.
  dispatch_dtype(out.dtype, [&]<class T>(TypeTag<T>) {
    const T v = convert<T>(value);
    switch (sizeof(T)) {
      case 1: return launch_fill<std::uint8_t>(out, &v);
      case 2: return launch_fill<std::uint16_t>(out, &v);
      case 4: return launch_fill<std::uint32_t>(out, &v);
      default: return launch_fill<std::uint64_t>(out, &v);
    }
  });
}

}  // namespace dm::cuda_backend::kernels
