#pragma once
// The geometry of a 2-d convolution or pooling window over NCHW data, worked out and checked
// by the ops layer; kernels only read it.
#include <cstdint>

namespace dm::backend {

/// y (batch, out_channels, out_h, out_w) = conv(x (batch, in_channels, in_h, in_w),
/// w (out_channels, in_channels / groups, kernel_h, kernel_w)), all contiguous. Output pixel
/// (oh, ow) reads input row oh * stride_h - pad_h + kh * dilation_h (and likewise for columns);
/// rows and columns outside the input read zero.
struct Conv2dGeometry {
  std::int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  std::int64_t out_channels = 0, out_h = 0, out_w = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
};

/// A pooling window over `planes` independent (in_h, in_w) planes (batch * channels), giving
/// (out_h, out_w) planes, contiguous. Window (oh, ow) covers input rows
/// oh * stride_h - pad_h + kh * dilation_h for kh in [0, kernel_h), and likewise for columns.
struct Pool2dGeometry {
  std::int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
};

}  // namespace dm::backend
