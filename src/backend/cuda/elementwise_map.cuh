#pragma once
// The one elementwise kernel: a grid-stride walk over out's shape that reads N operands
// through their strides (broadcasts are stride 0), converts them to the compute type T,
// applies the CPU's functor and stores the R result converted to out's dtype.
#include <string>

#include "backend/backend.hpp"
#include "backend/cuda/check.hpp"
#include "backend/cuda/launch.hpp"
#include "backend/cuda/values.cuh"
#include "democratising/base/error.hpp"

namespace dm::cuda_backend {

template <int N>
struct Inputs {
  const std::byte* data[N];
  DType dtype[N];
};

template <class T, class R, int N, class F>
__global__ void map_kernel(StridedIndex<N + 1> idx, std::byte* out, DType out_dtype, Inputs<N> in, F f,
                           std::int64_t n) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  for (std::int64_t i = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += step) {
    std::int64_t off[N + 1];
    idx.offsets(i, off);
    R r;
    if constexpr (N == 1) {
      r = f(load<T>(in.data[0], in.dtype[0], off[1]));
    } else if constexpr (N == 2) {
      r = f(load<T>(in.data[0], in.dtype[0], off[1]), load<T>(in.data[1], in.dtype[1], off[2]));
    } else {
      r = f(load<T>(in.data[0], in.dtype[0], off[1]), load<T>(in.data[1], in.dtype[1], off[2]),
            load<T>(in.data[2], in.dtype[2], off[3]));
    }
    store<R>(out, out_dtype, off[0], r);
  }
}

/// out = f(operands...) computed in T, result R (T, or bool for comparisons).
template <class T, class R, int N, class F>
void map(const char* entry, const backend::Output& out, const backend::Operand* const (&operands)[N], F f) {
  const std::int64_t n = out.shape.numel();
  if (n == 0) return;
  const Strides* strides[N + 1];
  strides[0] = &out.strides;
  Inputs<N> in;
  for (int k = 0; k < N; ++k) {
    strides[k + 1] = &operands[k]->strides;
    in.data[k] = operands[k]->data;
    in.dtype[k] = operands[k]->dtype;
  }
  const StridedIndex<N + 1> idx = make_strided_index<N + 1>(out.shape, strides);
  map_kernel<T, R, N, F><<<static_cast<unsigned>(grid_blocks(n)), kBlockThreads>>>(idx, out.data, out.dtype, in, f, n);
  check_launch(entry);
}

/// Calls f(TypeTag<T>{}) for the compute dtypes the CPU kernels have (f32, f64, i32, i64, u8).
template <class T>
struct Tag {
  using type = T;
};
template <class F>
void dispatch_compute(DType t, const char* entry, F&& f) {
  switch (t) {
    case DType::f32: return f(Tag<float>{});
    case DType::f64: return f(Tag<double>{});
    case DType::i32: return f(Tag<std::int32_t>{});
    case DType::i64: return f(Tag<std::int64_t>{});
    case DType::u8: return f(Tag<std::uint8_t>{});
    default: break;
  }
  throw DTypeError(std::string("[cuda: ") + entry + "] no CUDA kernel computes in " + std::string(dtype_name(t)));
}

}  // namespace dm::cuda_backend
