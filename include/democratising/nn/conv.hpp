#pragma once
// Convolution and pooling over images in NCHW layout (batch, channels, height, width); a 3-d
// input (channels, height, width) is one unbatched image. Each op accepts f32, f64 and bf16
// (computed in f32) tensors, validates its arguments (ShapeError naming the op and shapes)
// and records one autograd node with a hand-written backward.
#include <cstdint>
#include <optional>

#include "democratising/core/tensor.hpp"

namespace dm::nn {

/// A (height, width) pair of a 2-d window; one number means both.
struct Size2 {
  /// Height.
  std::int64_t h = 0;
  /// Width.
  std::int64_t w = 0;
  /// Both sides `both`: implicit, so `2` reads as {2, 2}.
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT
  /// Height and width.
  Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}
};

/// torch.nn.functional.conv2d: x (N, C, H, W), weight (OC, C / groups, KH, KW), bias (OC) or
/// undefined; y (N, OC, OH, OW) with OH = (H + 2 * padding.h - dilation.h * (KH - 1) - 1) /
/// stride.h + 1 (likewise OW). Zero padding; groups must divide C and OC.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1);

/// torch.nn.functional.max_pool2d (floor mode): stride defaults to kernel_size; padding
/// (never the maximum) is at most half the kernel.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                  Size2 dilation = 1);

/// torch.nn.functional.avg_pool2d (floor mode): stride defaults to kernel_size; with
/// count_include_pad (PyTorch's default) zero padding counts in each window's divisor.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                  bool count_include_pad = true);

/// torch.nn.functional.adaptive_avg_pool2d: output cells of size output_size, each the mean
/// of the input rows [floor(i * H / OH), ceil((i + 1) * H / OH)) and the columns alike.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

}  // namespace dm::nn
