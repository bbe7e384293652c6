#pragma once
// The one elementwise kernel: a grid-stride walk over out's shape that reads N operands
// through their strides (broadcasts are stride 0), converts them to the compute type T,
// applies the CPU's functor and stores the R result converted to out's dtype.
#include <cstdint>
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

template <class T, int N>
struct DenseInputs {
  const T* data[N];
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

// The dense path: out and every operand contiguous over the same shape and already of the
// types the functor takes and gives, so element i is at i everywhere. Each thread takes kPack
// consecutive elements with 16-byte loads and stores (when every pointer is 16-byte aligned),
// with no index arithmetic: the strided walk's 64-bit divisions and the per-element dtype
// switch are what held the kernel to half of the copy bandwidth.
template <class T>
inline constexpr int kPack = sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));

template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <class T, class R, int N, int V, class F>
__global__ void dense_map_kernel(R* out, DenseInputs<T, N> in, F f, std::int64_t n) {
  const std::int64_t step = std::int64_t{gridDim.x} * blockDim.x;
  const std::int64_t first = std::int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const std::int64_t packs = n / V;
  for (std::int64_t p = first; p < packs; p += step) {
    Pack<T, V> a[N];
    for (int k = 0; k < N; ++k) a[k] = reinterpret_cast<const Pack<T, V>*>(in.data[k])[p];
    Pack<R, V> r;
    for (int j = 0; j < V; ++j) {
      if constexpr (N == 1) r.v[j] = f(a[0].v[j]);
      else if constexpr (N == 2) r.v[j] = f(a[0].v[j], a[1].v[j]);
      else r.v[j] = f(a[0].v[j], a[1].v[j], a[2].v[j]);
    }
    reinterpret_cast<Pack<R, V>*>(out)[p] = r;
  }
  for (std::int64_t i = packs * V + first; i < n; i += step) {
    if constexpr (N == 1) out[i] = f(in.data[0][i]);
    else if constexpr (N == 2) out[i] = f(in.data[0][i], in.data[1][i]);
    else out[i] = f(in.data[0][i], in.data[1][i], in.data[2][i]);
  }
}

// Row-major strides of `shape`, as make_tensor lays out a fresh tensor.
inline bool row_major(const Shape& shape, const Strides& strides) {
  std::int64_t expected = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

/// out = f(operands...) computed in T, result R (T, or bool for comparisons).
template <class T, class R, int N, class F>
void map(const char* entry, const backend::Output& out, const backend::Operand* const (&operands)[N], F f) {
  const std::int64_t n = out.shape.numel();
  if (n == 0) return;
  bool dense = out.dtype == dtype_of_v<R> && row_major(out.shape, out.strides);
  bool aligned = reinterpret_cast<std::uintptr_t>(out.data) % 16 == 0;
  DenseInputs<T, N> dense_in;
  for (int k = 0; k < N; ++k) {
    dense = dense && operands[k]->dtype == dtype_of_v<T> && row_major(out.shape, operands[k]->strides);
    aligned = aligned && reinterpret_cast<std::uintptr_t>(operands[k]->data) % 16 == 0;
    dense_in.data[k] = reinterpret_cast<const T*>(operands[k]->data);
  }
  if (dense) {
    constexpr int V = kPack<T> < kPack<R> ? kPack<T> : kPack<R>;
    const std::int64_t threads = aligned ? (n + V - 1) / V : n;
    if (aligned)
      dense_map_kernel<T, R, N, V, F><<<static_cast<unsigned>(grid_blocks(threads)), kBlockThreads>>>(
          reinterpret_cast<R*>(out.data), dense_in, f, n);
    else
      dense_map_kernel<T, R, N, 1, F><<<static_cast<unsigned>(grid_blocks(threads)), kBlockThreads>>>(
          reinterpret_cast<R*>(out.data), dense_in, f, n);
    check_launch(entry);
    return;
  }
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
