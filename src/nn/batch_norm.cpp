// nn::batch_norm with a fused backward: checks here, the passes in the backend.
//
//   x (N, C, *) viewed as (N, C, S), S = the product of the trailing dims (1 for (N, C));
//   weight, bias, running_mean, running_var (C) or undefined
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "batch_norm_apply.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/normalization.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

std::string prefix(const char* op) { return std::string("[") + op + "] "; }

void check_arguments(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& w,
                     const Tensor& b, bool training, double eps, const char* op) {
  impl_of(x, op);
  common_device({&x, &w, &b, &running_mean, &running_var}, op);
  detail::require_floating(x, op, "x");
  if (x.dim() < 2)
    throw ShapeError(prefix(op) + "x must be (N, C, ...) with at least 2 dims, got " + x.shape().str());
  const std::int64_t channels = x.size(1);
  const Shape expected{channels};
  for (const auto& [t, what] : {std::pair{&w, "weight"}, std::pair{&b, "bias"}}) {
    if (!t->defined()) continue;
    if (t->shape() != expected)
      throw ShapeError(prefix(op) + what + " " + t->shape().str() + " does not match the " +
                       std::to_string(channels) + " channels of x " + x.shape().str());
    if (t->dtype() != x.dtype())
      throw DTypeError(prefix(op) + "x " + std::string(dtype_name(x.dtype())) + " vs " + what + " " +
                       std::string(dtype_name(t->dtype())) + ": dtypes must match");
  }
  for (const auto& [t, what] : {std::pair{&running_mean, "running_mean"}, std::pair{&running_var, "running_var"}}) {
    if (!t->defined()) {
      if (!training) throw ValueError(prefix(op) + what + " is needed in evaluation mode");
      continue;
    }
    if (t->shape() != expected)
      throw ShapeError(prefix(op) + what + " " + t->shape().str() + " does not match the " +
                       std::to_string(channels) + " channels of x " + x.shape().str());
    detail::require_floating(*t, op, what);
  }
  if (training && x.numel() / std::max<std::int64_t>(channels, 1) <= 1)
    throw ShapeError(prefix(op) + "expected more than 1 value per channel when training, got x " + x.shape().str());
  if (!(eps >= 0.0)) throw ValueError(prefix(op) + "eps must be >= 0, got " + std::to_string(eps));
}

std::byte* maybe_data(const Tensor& t) { return t.defined() ? static_cast<std::byte*>(t.data_ptr()) : nullptr; }
std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

backend::NormGeometry geometry_of(const Tensor& x) {
  backend::NormGeometry geo;
  geo.batch = x.size(0);
  geo.channels = x.size(1);
  geo.spatial = 1;
  for (int d = 2; d < x.dim(); ++d) geo.spatial *= x.size(d);
  return geo;
}

struct BatchNormBackward {
  Tensor x, w, mean, invstd;  // x, w in the compute dtype, contiguous; w may be undefined
  backend::NormGeometry geo;
  bool training;
  bool need_x, need_w, need_b;
  DType dtype;

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    std::vector<Tensor> grads(3);
    const Shape affine{geo.channels};
    Tensor dx = need_x ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    Tensor dw = need_w ? Tensor::empty(affine, x.dtype(), x.device()) : Tensor();
    Tensor db = need_b ? Tensor::empty(affine, x.dtype(), x.device()) : Tensor();
    backend::backend_for(x.device())
        .batch_norm_backward(x.dtype(), geo, data_of(g), data_of(x), maybe_data(w), data_of(mean), data_of(invstd),
                             training, maybe_data(dx), maybe_data(dw), maybe_data(db));
    if (need_x) grads[0] = dx.to(dtype);
    if (need_w) grads[1] = dw.to(dtype);
    if (need_b) grads[2] = db.to(dtype);
    return grads;
  }
};

}  // namespace

namespace detail {

BatchNormResult batch_norm_apply(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& weight, const Tensor& bias, bool training, double eps, const char* op) {
  check_arguments(x, running_mean, running_var, weight, bias, training, eps, op);
  const backend::NormGeometry geo = geometry_of(x);
  const Tensor xc = compute_view(x);
  const DType dtype = xc.dtype();
  const Tensor wc = weight.defined() ? compute_view(weight) : Tensor();
  const Tensor bc = bias.defined() ? compute_view(bias) : Tensor();
  const Tensor rm = training ? Tensor() : running_mean.to(dtype).contiguous();
  const Tensor rv = training ? Tensor() : running_var.to(dtype).contiguous();
  const Shape per_channel{geo.channels};
  BatchNormResult r;
  Tensor y = Tensor::empty(x.shape(), dtype, x.device());
  Tensor mean = Tensor::empty(per_channel, dtype, x.device());
  Tensor invstd = Tensor::empty(per_channel, dtype, x.device());
  if (training) r.batch_var = Tensor::empty(per_channel, dtype, x.device());
  backend::backend_for(x.device())
      .batch_norm_forward(dtype, geo, data_of(xc), maybe_data(wc), maybe_data(bc), maybe_data(rm), maybe_data(rv),
                          training, eps, data_of(y), data_of(mean), data_of(invstd), maybe_data(r.batch_var));
  if (training) r.batch_mean = mean;
  r.y = y.to(x.dtype());
  if (autograd::needs_grad({&x, &weight, &bias})) {
    BatchNormBackward backward{xc,
                               wc,
                               mean,
                               invstd,
                               geo,
                               training,
                               x.requires_grad(),
                               weight.defined() && weight.requires_grad(),
                               bias.defined() && bias.requires_grad(),
                               x.dtype()};
    autograd::record(r.y, "batch_norm", {&x, &weight, &bias}, std::move(backward));
  }
  return r;
}

void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const BatchNormResult& batch,
                          double momentum) {
  NoGradGuard no_grad;
  // momentum * batch + (1 - momentum) * running, each product rounded in the running dtype, as
  // PyTorch's CPU kernel computes it.
  for (const auto& [running, value] : {std::pair{running_mean, batch.batch_mean}, std::pair{running_var, batch.batch_var}}) {
    if (!running.defined()) continue;
    Tensor target = running;
    target.copy_(value.to(running.dtype()) * momentum + running * (1.0 - momentum));
  }
}

}  // namespace detail

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  detail::BatchNormResult r =
      detail::batch_norm_apply(x, running_mean, running_var, weight, bias, training, eps, "batch_norm");
  if (training) detail::update_running_stats(running_mean, running_var, r, momentum);
  return r.y;
}

}  // namespace dm::nn
