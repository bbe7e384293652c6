// CUDA average pooling over (planes, H, W), torch.nn.functional.avg_pool2d without ceil_mode,
// as cpu/avg_pool2d.cpp: one thread per output for the forward (the window summed in f64 in
// the CPU's order), one per input element for the backward (a gather over the windows that
// cover it, in output order: no atomics, the CPU's bits). The per-element maths is
// pool_windows.hpp's, shared with the host tests.
#include "backend/cuda/layer_kernels.hpp"
#include "backend/cuda/layer_support.cuh"
#include "backend/cuda/pool_windows.hpp"

namespace dm::cuda_backend::kernels {
namespace {

using backend::Pool2dGeometry;
using layer::typed;

template <class T>
struct AvgForward {
  Pool2dGeometry g;
  bool count_include_pad;
  const T* x;
  T* y;
  __device__ void operator()(std::int64_t o) const { y[o] = avg_pool_at(g, count_include_pad, x, o); }
};

template <class T>
struct AvgBackward {
  Pool2dGeometry g;
  bool count_include_pad;
  const T* grad;
  T* dx;
  __device__ void operator()(std::int64_t e) const { dx[e] = avg_pool_grad_at(g, count_include_pad, grad, e); }
};

}  // namespace

void avg_pool2d_forward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad,
                        const std::byte* x, std::byte* y) {
  layer::dispatch_float(dtype, "avg_pool2d_forward", [&]<class T>(T) {
    layer::each("avg_pool2d_forward", geo.planes * geo.out_h * geo.out_w,
                AvgForward<T>{geo, count_include_pad, typed<T>(x), typed<T>(y)});
  });
}

void avg_pool2d_backward(DType dtype, const backend::Pool2dGeometry& geo, bool count_include_pad,
                         const std::byte* g, std::byte* dx) {
  layer::dispatch_float(dtype, "avg_pool2d_backward", [&]<class T>(T) {
    layer::each("avg_pool2d_backward", geo.planes * geo.in_h * geo.in_w,
                AvgBackward<T>{geo, count_include_pad, typed<T>(g), typed<T>(dx)});
  });
}

}  // namespace dm::cuda_backend::kernels
