// nn::group_norm with a fused backward: checks here, the passes in the backend.
//
//   x (N, C, *) viewed as (N, C, S), S = the product of the trailing dims; groups divides C;
//   weight, bias (C) or undefined
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/normalization.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "group_norm";

void check_arguments(const Tensor& x, std::int64_t groups, const Tensor& w, const Tensor& b, double eps) {
  impl_of(x, kOp);
  common_device({&x, &w, &b}, kOp);
  detail::require_floating(x, kOp, "x");
  if (x.dim() < 2) throw ShapeError("[group_norm] x must be (N, C, ...) with at least 2 dims, got " + x.shape().str());
  const std::int64_t channels = x.size(1);
  if (groups < 1 || channels % groups != 0)
    throw ShapeError("[group_norm] groups " + std::to_string(groups) + " must be positive and divide the " +
                     std::to_string(channels) + " channels of x " + x.shape().str());
  for (const auto& [t, what] : {std::pair{&w, "weight"}, std::pair{&b, "bias"}}) {
    if (!t->defined()) continue;
    if (t->shape() != Shape{channels})
      throw ShapeError(std::string("[group_norm] ") + what + " " + t->shape().str() + " does not match the " +
                       std::to_string(channels) + " channels of x " + x.shape().str());
    if (t->dtype() != x.dtype())
      throw DTypeError(std::string("[group_norm] x ") + std::string(dtype_name(x.dtype())) + " vs " + what + " " +
                       std::string(dtype_name(t->dtype())) + ": dtypes must match");
  }
  if (!(eps >= 0.0)) throw ValueError("[group_norm] eps must be >= 0, got " + std::to_string(eps));
}

std::byte* maybe_data(const Tensor& t) { return t.defined() ? static_cast<std::byte*>(t.data_ptr()) : nullptr; }
std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

struct GroupNormBackward {
  Tensor x, w, mean, rstd;  // x, w in the compute dtype, contiguous; w may be undefined
  backend::NormGeometry geo;
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
        .group_norm_backward(x.dtype(), geo, data_of(g), data_of(x), maybe_data(w), data_of(mean), data_of(rstd),
                             maybe_data(dx), maybe_data(dw), maybe_data(db));
    if (need_x) grads[0] = dx.to(dtype);
    if (need_w) grads[1] = dw.to(dtype);
    if (need_b) grads[2] = db.to(dtype);
    return grads;
  }
};

}  // namespace

Tensor group_norm(const Tensor& x, std::int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  check_arguments(x, groups, weight, bias, eps);
  backend::NormGeometry geo;
  geo.batch = x.size(0);
  geo.channels = x.size(1);
  geo.groups = groups;
  for (int d = 2; d < x.dim(); ++d) geo.spatial *= x.size(d);
  const Tensor xc = detail::compute_view(x);
  const Tensor wc = weight.defined() ? detail::compute_view(weight) : Tensor();
  const Tensor bc = bias.defined() ? detail::compute_view(bias) : Tensor();
  Tensor y = Tensor::empty(x.shape(), xc.dtype(), x.device());
  Tensor mean = Tensor::empty({geo.batch, groups}, xc.dtype(), x.device());
  Tensor rstd = Tensor::empty({geo.batch, groups}, xc.dtype(), x.device());
  backend::backend_for(x.device())
      .group_norm_forward(xc.dtype(), geo, data_of(xc), maybe_data(wc), maybe_data(bc), eps, data_of(y),
                          data_of(mean), data_of(rstd));
  y = y.to(x.dtype());
  if (autograd::needs_grad({&x, &weight, &bias})) {
    GroupNormBackward backward{xc,
                               wc,
                               mean,
                               rstd,
                               geo,
                               x.requires_grad(),
                               weight.defined() && weight.requires_grad(),
                               bias.defined() && bias.requires_grad(),
                               x.dtype()};
    autograd::record(y, kOp, {&x, &weight, &bias}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
