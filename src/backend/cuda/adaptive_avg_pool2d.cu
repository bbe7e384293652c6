// CUDA adaptive average pooling over (planes, H, W) to (planes, OH, OW), as
// cpu/adaptive_avg_pool2d.cpp: one thread per cell for the forward (summed in f64 in the CPU's
// order), one per input element for the backward (a gather over the cells holding it, in
// output order: no atomics, the CPU's bits). The per-element maths is pool_windows.hpp's,
// shared with the host tests.
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"
#include "backend/cuda/pool_windows.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using backend::Pool2dGeometry;
using layer::typed;

template <class T>
struct AdaptiveForward {
  Pool2dGeometry g;
  const T* x;
  T* y;
  __device__ void operator()(std::int64_t o) const { y[o] = adaptive_pool_at(g, x, o); }
};

template <class T>
struct AdaptiveBackward {
  Pool2dGeometry g;
  const T* grad;
  T* dx;
  __device__ void operator()(std::int64_t e) const { dx[e] = adaptive_pool_grad_at(g, grad, e); }
};

}  // namespace

void adaptive_avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* x,
                                 std::byte* y) {
  layer::dispatch_float(dtype, "adaptive_avg_pool2d_forward", [&]<class T>(T) {
    layer::each("adaptive_avg_pool2d_forward", geo.planes * geo.out_h * geo.out_w,
                AdaptiveForward<T>{geo, typed<T>(x), typed<T>(y)});
  });
}

void adaptive_avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, const std::byte* g,
                                  std::byte* dx) {
  layer::dispatch_float(dtype, "adaptive_avg_pool2d_backward", [&]<class T>(T) {
    layer::each("adaptive_avg_pool2d_backward", geo.planes * geo.in_h * geo.in_w,
                AdaptiveBackward<T>{geo, typed<T>(g), typed<T>(dx)});
  });
}

}  // namespace dm::cuda_backend::kernels
