// CUDA max pooling over (planes, H, W), as cpu/max_pool2d.cpp: one thread per output for the
// forward, one per input element for the backward (a gather over the windows that recorded
// it, in output order: no float atomics, the CPU's bits). The per-element maths is
// pool_windows.hpp's, shared with the host tests.
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"
#include "backend/cuda/pool_windows.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using backend::Pool2dGeometry;
using layer::typed;

template <class T>
struct MaxForward {
  Pool2dGeometry g;
  const T* x;
  T* y;
  std::int64_t* indices;
  __device__ void operator()(std::int64_t o) const { y[o] = max_pool_at(g, x, o, indices + o); }
};

template <class T>
struct MaxBackward {
  Pool2dGeometry g;
  const T* grad;
  const std::int64_t* indices;
  T* dx;
  __device__ void operator()(std::int64_t e) const { dx[e] = max_pool_grad_at(g, grad, indices, e); }
};

}  // namespace

void max_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x, std::byte* y,
                        std::int64_t* indices) {
  layer::dispatch_float(dtype, "max_pool2d_forward", [&]<class T>(T) {
    layer::each("max_pool2d_forward", geo.planes * geo.out_h * geo.out_w,
                MaxForward<T>{geo, typed<T>(x), typed<T>(y), indices});
  });
}

void max_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                         const std::int64_t* indices, std::byte* dx) {
  layer::dispatch_float(dtype, "max_pool2d_backward", [&]<class T>(T) {
    layer::each("max_pool2d_backward", geo.planes * geo.in_h * geo.in_w,
                MaxBackward<T>{geo, typed<T>(g), indices, typed<T>(dx)});
  });
}

}  // namespace dm::cuda_backend::kernels
