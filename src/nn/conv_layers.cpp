// The convolution and pooling layers: Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d. The
// window arguments are checked when the layer is made, so a bad one fails at model building,
// not at the first batch; shapes that depend on the input are checked by the ops.
#include <cmath>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/nn/conv.hpp"
#include "democratising/nn/layers.hpp"
#include "window_checks.hpp"

namespace dm::nn {
namespace {

// Uniform in [-bound, bound) from the global generator, in `dtype` (bf16 drawn in f32).
Tensor uniform_symmetric(const Shape& shape, double bound, DType dtype) {
  const DType draw_dtype = dtype == DType::bf16 ? DType::f32 : dtype;
  Tensor t = Tensor::rand(shape, draw_dtype);
  t.mul_(2.0 * bound).sub_(bound);
  return t.to(dtype);
}

std::string pair(Size2 s) { return detail::pair_str(s); }

void check_pool(Size2 kernel, Size2 stride, Size2 padding, const char* layer) {
  detail::require_at_least(kernel, 1, layer, "kernel_size");
  detail::require_at_least(stride, 1, layer, "stride");
  detail::require_at_least(padding, 0, layer, "padding");
  if (2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw ShapeError(std::string("[") + layer + "] padding " + pair(padding) +
                     " must be at most half the kernel_size " + pair(kernel));
}

}  // namespace

// torch.nn.Conv2d's reset_parameters: kaiming_uniform(a = sqrt(5)) on the weight works out to
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias uses the same bound.
Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size, Size2 stride, Size2 padding,
               Size2 dilation, std::int64_t groups, bool bias, DType dtype)
    : in_(in_channels),
      out_(out_channels),
      kernel_(kernel_size),
      stride_(stride),
      padding_(padding),
      dilation_(dilation),
      groups_(groups),
      has_bias_(bias) {
  if (in_channels < 1 || out_channels < 1)
    throw ShapeError("[Conv2d] channels must be positive, got " + std::to_string(in_channels) + " -> " +
                     std::to_string(out_channels));
  if (groups < 1 || in_channels % groups != 0 || out_channels % groups != 0)
    throw ShapeError("[Conv2d] groups " + std::to_string(groups) + " must be positive and divide both " +
                     std::to_string(in_channels) + " and " + std::to_string(out_channels) + " channels");
  detail::require_at_least(kernel_size, 1, "Conv2d", "kernel_size");
  detail::require_at_least(stride, 1, "Conv2d", "stride");
  detail::require_at_least(padding, 0, "Conv2d", "padding");
  detail::require_at_least(dilation, 1, "Conv2d", "dilation");
  if (!is_floating(dtype))
    throw DTypeError("[Conv2d] parameters must be f32, f64 or bf16, got " + std::string(dtype_name(dtype)));
  const std::int64_t fan_in = in_channels / groups * kernel_size.h * kernel_size.w;
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  const Shape weight_shape{out_channels, in_channels / groups, kernel_size.h, kernel_size.w};
  register_parameter("weight", uniform_symmetric(weight_shape, bound, dtype));
  if (bias) register_parameter("bias", uniform_symmetric({out_channels}, bound, dtype));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return conv2d(x, weight(), has_bias_ ? parameter(1) : Tensor(), stride_, padding_, dilation_, groups_);
}

std::string Conv2d::name() const {
  std::string s = "Conv2d(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", kernel " + pair(kernel_);
  if (stride_.h != 1 || stride_.w != 1) s += ", stride " + pair(stride_);
  if (padding_.h != 0 || padding_.w != 0) s += ", padding " + pair(padding_);
  if (dilation_.h != 1 || dilation_.w != 1) s += ", dilation " + pair(dilation_);
  if (groups_ != 1) s += ", groups " + std::to_string(groups_);
  return s + (has_bias_ ? ")" : ", no bias)");
}

MaxPool2d::MaxPool2d(Size2 kernel_size, std::optional<Size2> stride, Size2 padding, Size2 dilation)
    : kernel_(kernel_size), stride_(stride.value_or(kernel_size)), padding_(padding), dilation_(dilation) {
  check_pool(kernel_, stride_, padding_, "MaxPool2d");
  detail::require_at_least(dilation, 1, "MaxPool2d", "dilation");
}

Tensor MaxPool2d::forward(const Tensor& x) const { return max_pool2d(x, kernel_, stride_, padding_, dilation_); }

std::string MaxPool2d::name() const {
  return "MaxPool2d(kernel " + pair(kernel_) + ", stride " + pair(stride_) + ", padding " + pair(padding_) + ")";
}

AvgPool2d::AvgPool2d(Size2 kernel_size, std::optional<Size2> stride, Size2 padding, bool count_include_pad)
    : kernel_(kernel_size), stride_(stride.value_or(kernel_size)), padding_(padding),
      count_include_pad_(count_include_pad) {
  check_pool(kernel_, stride_, padding_, "AvgPool2d");
}

Tensor AvgPool2d::forward(const Tensor& x) const {
  return avg_pool2d(x, kernel_, stride_, padding_, count_include_pad_);
}

std::string AvgPool2d::name() const {
  return "AvgPool2d(kernel " + pair(kernel_) + ", stride " + pair(stride_) + ", padding " + pair(padding_) + ")";
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {
  detail::require_at_least(output_size, 1, "AdaptiveAvgPool2d", "output_size");
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) const { return adaptive_avg_pool2d(x, output_size_); }

std::string AdaptiveAvgPool2d::name() const { return "AdaptiveAvgPool2d(" + pair(output_size_) + ")"; }

}  // namespace dm::nn
