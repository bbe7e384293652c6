#pragma once
// What one thread of the CUDA pooling kernels computes for one output (forward) or one input
// element (backward), in plain C++ so the host tests run the very same code against the CPU
// kernels. Each forward sums its window in f64 in the CPU's order; each backward is a gather
// over the windows that cover its element (window_index.hpp), added in output order, which is
// the order the CPU's scatter adds them in: the CPU's bits, with no atomics.
#include <cmath>
#include <cstdint>

#include "backend/conv_geometry.hpp"
#include "backend/cuda/window_index.hpp"
#include "backend/host_device.hpp"
#include "backend/pool_window.hpp"

namespace dm::cuda_backend {

/// Max pooling, output o of (planes, OH, OW): the window's maximum and, in *index, the flat
/// position ih * W + iw in its plane of the first maximum (a later element wins only if
/// strictly greater, or NaN); a window wholly in the padding gives -inf and -1.
template <class T>
DM_HOST_DEVICE T max_pool_at(const backend::Pool2dGeometry& g, const T* x, std::int64_t o, std::int64_t* index) {
  const std::int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, p = o / (g.out_w * g.out_h);
  return backend::max_window(g, x + p * g.in_h * g.in_w, oh, ow, index);
}

/// Max pooling's input gradient at element e of (planes, H, W): g summed over the windows whose
/// recorded index is e's position. A window of the covering range that steps over e (dilation)
/// never records it.
template <class T>
DM_HOST_DEVICE T max_pool_grad_at(const backend::Pool2dGeometry& g, const T* grad, const std::int64_t* indices,
                                  std::int64_t e) {
  const std::int64_t iw = e % g.in_w, ih = (e / g.in_w) % g.in_h, p = e / (g.in_w * g.in_h);
  const std::int64_t here = ih * g.in_w + iw, out_plane = g.out_h * g.out_w;
  const OutputRange rows = windows_covering(ih, g.pad_h, g.stride_h, (g.kernel_h - 1) * g.dilation_h + 1, g.out_h);
  const OutputRange cols = windows_covering(iw, g.pad_w, g.stride_w, (g.kernel_w - 1) * g.dilation_w + 1, g.out_w);
  T sum = T(0);
  for (std::int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (std::int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      const std::int64_t o = p * out_plane + oh * g.out_w + ow;
      if (indices[o] == here) sum += grad[o];
    }
  return sum;
}

using backend::avg_window;
using backend::AvgWindow;

/// Average pooling, output o: the window's sum in f64 over its divisor.
template <class T>
DM_HOST_DEVICE T avg_pool_at(const backend::Pool2dGeometry& g, bool count_include_pad, const T* x, std::int64_t o) {
  const std::int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, p = o / (g.out_w * g.out_h);
  const T* xp = x + p * g.in_h * g.in_w;
  const AvgWindow win = avg_window(g, count_include_pad, oh, ow);
  double s = 0.0;
  for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
    for (std::int64_t iw = win.w0; iw < win.w1; ++iw) s += static_cast<double>(xp[ih * g.in_w + iw]);
  return static_cast<T>(s / win.divisor);
}

/// Average pooling's input gradient at element e: each covering window's g / divisor, rounded
/// to T as the CPU's share is, added up. Without dilation every window of the covering range
/// holds e, and its part inside the input still does.
template <class T>
DM_HOST_DEVICE T avg_pool_grad_at(const backend::Pool2dGeometry& g, bool count_include_pad, const T* grad,
                                  std::int64_t e) {
  const std::int64_t iw = e % g.in_w, ih = (e / g.in_w) % g.in_h, p = e / (g.in_w * g.in_h);
  const T* gp = grad + p * g.out_h * g.out_w;
  const OutputRange rows = windows_covering(ih, g.pad_h, g.stride_h, g.kernel_h, g.out_h);
  const OutputRange cols = windows_covering(iw, g.pad_w, g.stride_w, g.kernel_w, g.out_w);
  T sum = T(0);
  for (std::int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (std::int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      const AvgWindow win = avg_window(g, count_include_pad, oh, ow);
      sum += static_cast<T>(static_cast<double>(gp[oh * g.out_w + ow]) / win.divisor);
    }
  return sum;
}

/// Adaptive average pooling, cell o: the mean of its rows and columns (cell_start, cell_end).
template <class T>
DM_HOST_DEVICE T adaptive_pool_at(const backend::Pool2dGeometry& g, const T* x, std::int64_t o) {
  const std::int64_t ow = o % g.out_w, oh = (o / g.out_w) % g.out_h, p = o / (g.out_w * g.out_h);
  const T* xp = x + p * g.in_h * g.in_w;
  const std::int64_t h0 = cell_start(oh, g.in_h, g.out_h), h1 = cell_end(oh, g.in_h, g.out_h);
  const std::int64_t w0 = cell_start(ow, g.in_w, g.out_w), w1 = cell_end(ow, g.in_w, g.out_w);
  double s = 0.0;
  for (std::int64_t ih = h0; ih < h1; ++ih)
    for (std::int64_t iw = w0; iw < w1; ++iw) s += static_cast<double>(xp[ih * g.in_w + iw]);
  return static_cast<T>(s / static_cast<double>((h1 - h0) * (w1 - w0)));
}

/// Adaptive average pooling's input gradient at element e: each covering cell's g / area,
/// rounded to T, added up.
template <class T>
DM_HOST_DEVICE T adaptive_pool_grad_at(const backend::Pool2dGeometry& g, const T* grad, std::int64_t e) {
  const std::int64_t iw = e % g.in_w, ih = (e / g.in_w) % g.in_h, p = e / (g.in_w * g.in_h);
  const T* gp = grad + p * g.out_h * g.out_w;
  const OutputRange rows = cells_covering(ih, g.in_h, g.out_h);
  const OutputRange cols = cells_covering(iw, g.in_w, g.out_w);
  T sum = T(0);
  for (std::int64_t oh = rows.lo; oh < rows.hi; ++oh) {
    const std::int64_t area_h = cell_end(oh, g.in_h, g.out_h) - cell_start(oh, g.in_h, g.out_h);
    for (std::int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      const std::int64_t area = area_h * (cell_end(ow, g.in_w, g.out_w) - cell_start(ow, g.in_w, g.out_w));
      sum += static_cast<T>(static_cast<double>(gp[oh * g.out_w + ow]) / static_cast<double>(area));
    }
  }
  return sum;
}

}  // namespace dm::cuda_backend
