#pragma once
// The windows of max, average and adaptive average pooling over a Pool2dGeometry, shared by the
// CPU kernels (cpu/max_pool2d.cpp, cpu/avg_pool2d.cpp, cpu/adaptive_avg_pool2d.cpp) and the
// CUDA ones (cuda/pool_windows.hpp, cuda/window_index.hpp), so both visit the same elements in
// the same order, pick the same maximum and divide by the same count.
#include <cmath>
#include <cstdint>

#include "backend/conv_geometry.hpp"
#include "backend/host_device.hpp"

namespace dm::backend {

/// Max pooling's window (oh, ow) over one plane xp (in_h, in_w): its maximum and, in *index,
/// the flat position ih * in_w + iw of the first maximum (a later element wins only if strictly
/// greater, or NaN); a window wholly in the padding gives -inf and -1.
template <class T>
DM_HOST_DEVICE T max_window(const Pool2dGeometry& g, const T* xp, std::int64_t oh, std::int64_t ow,
                            std::int64_t* index) {
  T best = -T(INFINITY);
  std::int64_t best_index = -1;
  for (std::int64_t kh = 0; kh < g.kernel_h; ++kh) {
    const std::int64_t ih = oh * g.stride_h - g.pad_h + kh * g.dilation_h;
    if (ih < 0 || ih >= g.in_h) continue;
    for (std::int64_t kw = 0; kw < g.kernel_w; ++kw) {
      const std::int64_t iw = ow * g.stride_w - g.pad_w + kw * g.dilation_w;
      if (iw < 0 || iw >= g.in_w) continue;
      const T v = xp[ih * g.in_w + iw];
      if (best_index < 0 || v > best || v != v) {
        best = v;
        best_index = ih * g.in_w + iw;
      }
    }
  }
  *index = best_index;
  return best;
}

/// One average-pooling window: its part inside the input, and the divisor of its sum
/// (count_include_pad: the window clipped to the padded input; else the part inside).
struct AvgWindow {
  std::int64_t h0, h1, w0, w1;
  double divisor;
};

DM_HOST_DEVICE inline AvgWindow avg_window(const Pool2dGeometry& g, bool count_include_pad, std::int64_t oh,
                                           std::int64_t ow) {
  std::int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  std::int64_t h1 = h0 + g.kernel_h, w1 = w0 + g.kernel_w;
  if (h1 > g.in_h + g.pad_h) h1 = g.in_h + g.pad_h;
  if (w1 > g.in_w + g.pad_w) w1 = g.in_w + g.pad_w;
  const std::int64_t padded_area = (h1 - h0) * (w1 - w0);
  if (h0 < 0) h0 = 0;
  if (w0 < 0) w0 = 0;
  if (h1 > g.in_h) h1 = g.in_h;
  if (w1 > g.in_w) w1 = g.in_w;
  const std::int64_t inner_area = (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, static_cast<double>(count_include_pad ? padded_area : inner_area)};
}

/// Adaptive pooling: cell o of `out` over `in` positions starts at floor(o * in / out) and ends
/// (exclusive) at ceil((o + 1) * in / out), as torch.nn.functional.adaptive_avg_pool2d.
DM_HOST_DEVICE inline std::int64_t cell_start(std::int64_t o, std::int64_t in, std::int64_t out) {
  return (o * in) / out;
}
DM_HOST_DEVICE inline std::int64_t cell_end(std::int64_t o, std::int64_t in, std::int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

}  // namespace dm::backend
