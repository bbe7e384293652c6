// nn::conv2d with a hand-written backward: checks here, the passes in the backend.
//
//   x (N, C, H, W)   weight (OC, C / groups, KH, KW)   bias (OC)   y (N, OC, OH, OW)
//   backward: dx, dweight and dbias from one backend call, each only when an input needs it
//   (a batch of images needs no dx, which saves the col2im pass of a first layer).
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/conv.hpp"
#include "op_checks.hpp"
#include "window_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "conv2d";

std::string operands(const Tensor& x, const Tensor& w) {
  return std::string("[conv2d] x ") + x.shape().str() + " vs weight " + w.shape().str();
}

void check_tensors(const Tensor& x, const Tensor& w, const Tensor& b, std::int64_t groups) {
  impl_of(x, kOp);
  impl_of(w, kOp);
  common_device({&x, &w, &b}, kOp);
  detail::require_floating(x, kOp, "x");
  if (x.dtype() != w.dtype() || (b.defined() && b.dtype() != w.dtype()))
    throw DTypeError(std::string("[conv2d] x ") + std::string(dtype_name(x.dtype())) + ", weight " +
                     std::string(dtype_name(w.dtype())) +
                     (b.defined() ? ", bias " + std::string(dtype_name(b.dtype())) : std::string()) +
                     ": dtypes must match");
  detail::require_image(x, kOp);
  if (w.dim() != 4)
    throw ShapeError("[conv2d] weight must be 4-d (out_channels, in_channels / groups, kH, kW), got shape " +
                     w.shape().str());
  for (int d = 0; d < 4; ++d)
    if (w.size(d) < 1) throw ShapeError("[conv2d] weight " + w.shape().str() + " has an empty dim");
  if (groups < 1) throw ShapeError("[conv2d] groups must be positive, got " + std::to_string(groups));
  const std::int64_t channels = x.size(1);
  if (channels % groups != 0)
    throw ShapeError(operands(x, w) + ": groups " + std::to_string(groups) + " does not divide the " +
                     std::to_string(channels) + " input channels");
  if (w.size(0) % groups != 0)
    throw ShapeError(operands(x, w) + ": groups " + std::to_string(groups) + " does not divide the " +
                     std::to_string(w.size(0)) + " output channels");
  if (w.size(1) * groups != channels)
    throw ShapeError(operands(x, w) + ": x has " + std::to_string(channels) + " channels, the weight expects " +
                     std::to_string(w.size(1) * groups) + " (" + std::to_string(w.size(1)) + " per group x " +
                     std::to_string(groups) + " groups)");
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw ShapeError(std::string("[conv2d] bias ") + b.shape().str() + " vs weight " + w.shape().str() +
                     ": bias must have shape " + Shape{w.size(0)}.str());
}

backend::Conv2dGeometry geometry(const Tensor& x, const Tensor& w, Size2 stride, Size2 padding, Size2 dilation,
                                 std::int64_t groups) {
  detail::require_at_least(stride, 1, kOp, "stride");
  detail::require_at_least(padding, 0, kOp, "padding");
  detail::require_at_least(dilation, 1, kOp, "dilation");
  backend::Conv2dGeometry g;
  g.batch = x.size(0);
  g.in_channels = x.size(1);
  g.in_h = x.size(2);
  g.in_w = x.size(3);
  g.out_channels = w.size(0);
  g.kernel_h = w.size(2);
  g.kernel_w = w.size(3);
  g.stride_h = stride.h;
  g.stride_w = stride.w;
  g.pad_h = padding.h;
  g.pad_w = padding.w;
  g.dilation_h = dilation.h;
  g.dilation_w = dilation.w;
  g.groups = groups;
  g.out_h = detail::window_output(x, g.in_h, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h, kOp, "height");
  g.out_w = detail::window_output(x, g.in_w, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w, kOp, "width");
  return g;
}

std::byte* maybe_data(const Tensor& t) { return t.defined() ? static_cast<std::byte*>(t.data_ptr()) : nullptr; }
std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

struct Conv2dBackward {
  Tensor x, w;  // in the compute dtype, contiguous
  backend::Conv2dGeometry geo;
  bool need_x, need_w, need_b;
  DType dtype;  // of the inputs; gradients go back in it

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    Tensor dx = need_x ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    Tensor dw = need_w ? Tensor::empty(w.shape(), w.dtype(), w.device()) : Tensor();
    Tensor db = need_b ? Tensor::empty({geo.out_channels}, w.dtype(), w.device()) : Tensor();
    backend::backend_for(x.device())
        .conv2d_backward(x.dtype(), geo, data_of(g), data_of(x), data_of(w), maybe_data(dx), maybe_data(dw),
                         maybe_data(db));
    std::vector<Tensor> grads(3);
    if (need_x) grads[0] = dx.to(dtype);
    if (need_w) grads[1] = dw.to(dtype);
    if (need_b) grads[2] = db.to(dtype);
    return grads;
  }
};

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding, Size2 dilation,
              std::int64_t groups) {
  impl_of(x, kOp);
  if (x.dim() == 3) return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  check_tensors(x, weight, bias, groups);
  const backend::Conv2dGeometry geo = geometry(x, weight, stride, padding, dilation, groups);
  Tensor xc, wc, y;
  {
    NoGradGuard no_grad;  // the one node recorded below stands for the whole op
    xc = detail::compute_view(x);
    wc = detail::compute_view(weight);
    const Tensor bc = bias.defined() ? detail::compute_view(bias) : Tensor();
    y = Tensor::empty({geo.batch, geo.out_channels, geo.out_h, geo.out_w}, xc.dtype(), x.device());
    backend::backend_for(x.device())
        .conv2d_forward(xc.dtype(), geo, data_of(xc), data_of(wc), maybe_data(bc), data_of(y));
    y = y.to(x.dtype());
  }
  if (autograd::needs_grad({&x, &weight, &bias})) {
    Conv2dBackward backward{xc,
                            wc,
                            geo,
                            x.requires_grad(),
                            weight.requires_grad(),
                            bias.defined() && bias.requires_grad(),
                            x.dtype()};
    autograd::record(y, kOp, {&x, &weight, &bias}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
