#pragma once
// Layers. Each is a value type that Sequential::add() takes by value.
#include <cstdint>
#include <optional>
#include <string>

#include "democratising/nn/conv.hpp"
#include "democratising/nn/module.hpp"

namespace dm::nn {

/// y = x W^T + b with W of shape (out, in), initialised like torch.nn.Linear:
/// W and b uniform in [-1/sqrt(in), 1/sqrt(in)], from the global generator (dm::manual_seed).
class Dense : public Module {
 public:
  /// A layer from in_features to out_features, with or without a bias, of `dtype`.
  Dense(std::int64_t in_features, std::int64_t out_features, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// The weight, (out, in).
  const Tensor& weight() const { return parameter(0); }
  /// The bias, or null for a layer made without one.
  const Tensor* bias() const { return has_bias_ ? &parameter(1) : nullptr; }
  /// The size of an input sample.
  std::int64_t in_features() const { return in_; }
  /// The size of an output sample.
  std::int64_t out_features() const { return out_; }

 private:
  std::int64_t in_, out_;
  bool has_bias_;
};

/// max(x, 0), elementwise.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) const override { return x.relu(); }
  std::string name() const override { return "ReLU"; }
};
/// 1 / (1 + exp(-x)), elementwise.
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) const override { return x.sigmoid(); }
  std::string name() const override { return "Sigmoid"; }
};
/// tanh(x), elementwise.
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) const override { return x.tanh(); }
  std::string name() const override { return "Tanh"; }
};
/// The exact (erf) GELU, elementwise.
class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) const override { return x.gelu(); }
  std::string name() const override { return "GELU"; }
};

/// Zeroes each element with probability p in training mode and scales the rest by 1/(1-p);
/// the identity in evaluation mode. Masks come from the global generator (dm::manual_seed).
/// p outside [0, 1) is a ValueError.
class Dropout : public Module {
 public:
  /// Drops with probability `p`.
  explicit Dropout(double p = 0.5);
  /// The drop probability.
  double p() const { return p_; }
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;

 private:
  double p_;
};

/// Normalises over the last dims given by `normalized_shape`, with learnable scale (ones) and
/// shift (zeros), as torch.nn.LayerNorm; see nn::layer_norm.
class LayerNorm : public Module {
 public:
  /// Normalises over the trailing dims `normalized_shape`, with `eps` added to the variance.
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// The learned scale, of shape normalized_shape.
  const Tensor& weight() const { return parameter(0); }
  /// The learned shift, of shape normalized_shape.
  const Tensor& bias() const { return parameter(1); }

 private:
  Shape shape_;
  double eps_;
};

/// Flattens dims start..end (default: all but the batch dim).
class Flatten : public Module {
 public:
  /// Flattens dims start_dim..end_dim.
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) const override { return x.flatten(start_, end_); }
  std::string name() const override { return "Flatten"; }

 private:
  std::int64_t start_, end_;
};

/// softmax along a dim (the last unless given).
class Softmax : public Module {
 public:
  /// Normalises along `dim`.
  explicit Softmax(std::int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) const override { return x.softmax(dim_); }
  std::string name() const override { return "Softmax"; }

 private:
  std::int64_t dim_;
};

/// log_softmax along a dim (the last unless given).
class LogSoftmax : public Module {
 public:
  /// Normalises along `dim`.
  explicit LogSoftmax(std::int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) const override { return x.log_softmax(dim_); }
  std::string name() const override { return "LogSoftmax"; }

 private:
  std::int64_t dim_;
};

/// 2-d convolution over (N, C, H, W) images, see nn::conv2d. weight (out, in / groups, kH, kW)
/// and bias (out) are initialised like torch.nn.Conv2d: uniform in [-1/sqrt(fan_in),
/// 1/sqrt(fan_in)] with fan_in = in / groups * kH * kW, weight drawn before bias.
class Conv2d : public Module {
 public:
  /// A convolution from `in_channels` to `out_channels`; ShapeError for sizes nn::conv2d refuses.
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, std::int64_t groups = 1, bool bias = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;
  /// The weight, (out, in / groups, kH, kW).
  const Tensor& weight() const { return parameter(0); }
  /// The bias, or null for a layer made without one.
  const Tensor* bias() const { return has_bias_ ? &parameter(1) : nullptr; }

 private:
  std::int64_t in_, out_;
  Size2 kernel_, stride_, padding_, dilation_;
  std::int64_t groups_;
  bool has_bias_;
};

/// Max pooling, see nn::max_pool2d; stride defaults to kernel_size.
class MaxPool2d : public Module {
 public:
  /// Windows of `kernel_size` moved by `stride` over the input padded by `padding`.
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     Size2 dilation = 1);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;

 private:
  Size2 kernel_, stride_, padding_, dilation_;
};

/// Average pooling, see nn::avg_pool2d; stride defaults to kernel_size.
class AvgPool2d : public Module {
 public:
  /// Windows of `kernel_size` moved by `stride`; padding counts in the mean when count_include_pad.
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     bool count_include_pad = true);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;

 private:
  Size2 kernel_, stride_, padding_;
  bool count_include_pad_;
};

/// Average pooling to a fixed output size, see nn::adaptive_avg_pool2d.
class AdaptiveAvgPool2d : public Module {
 public:
  /// Pools any input size down to `output_size`.
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Tensor forward(const Tensor& x) const override;
  std::string name() const override;

 private:
  Size2 output_size_;
};

}  // namespace dm::nn
