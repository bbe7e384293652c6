#pragma once
// The sizes both convolution kernels (cpu/conv2d.cpp, cuda/conv2d.cu) derive from a
// Conv2dGeometry for their im2col GEMMs, worked out in one place so the two cannot drift.
#include <cstdint>

#include "backend/conv_geometry.hpp"
#include "backend/host_device.hpp"

namespace dm::backend {

/// Per group g: y[n, g] (group_out, pixels) = w[g] (group_out, k) * cols (k, pixels).
struct Conv2dPlan {
  std::int64_t group_in, group_out;  // channels per group
  std::int64_t k;                    // group_in * KH * KW: the GEMM's reduction
  std::int64_t pixels;               // OH * OW
  std::int64_t in_plane;             // H * W
  bool direct;                       // cols is x itself (1x1 kernel, stride 1, no padding)

  DM_HOST_DEVICE explicit Conv2dPlan(const Conv2dGeometry& g)
      : group_in(g.in_channels / g.groups),
        group_out(g.out_channels / g.groups),
        k(group_in * g.kernel_h * g.kernel_w),
        pixels(g.out_h * g.out_w),
        in_plane(g.in_h * g.in_w),
        direct(g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 &&
               g.pad_w == 0) {}
};

}  // namespace dm::backend
