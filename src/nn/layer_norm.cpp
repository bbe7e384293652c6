// nn::layer_norm with a fused backward: checks here, the passes in the backend.
//
//   x viewed as (rows, D), D = numel(normalized_shape); weight, bias (D) or undefined
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "layer_norm";
void check_arguments(const Tensor& x, const Shape& shape, const Tensor& w, const Tensor& b, double eps) {
  impl_of(x, kOp);
  common_device({&x, &w, &b}, kOp);
  detail::require_floating(x, kOp, "x");
  const int k = shape.size();
  bool fits = k >= 1 && k <= x.dim();
  for (int i = 0; fits && i < k; ++i) fits = x.size(x.dim() - k + i) == shape[i];
  if (!fits)
    throw ShapeError("[layer_norm] x " + x.shape().str() + " does not end with normalized_shape " + shape.str());
  for (const auto& [t, what] : {std::pair{&w, "weight"}, std::pair{&b, "bias"}}) {
    if (!t->defined()) continue;
    if (t->shape() != shape)
      throw ShapeError(std::string("[layer_norm] ") + what + " " + t->shape().str() + " vs normalized_shape " +
                       shape.str() + ": shapes must match");
    if (t->dtype() != x.dtype())
      throw DTypeError(std::string("[layer_norm] x ") + std::string(dtype_name(x.dtype())) + " vs " + what + " " +
                       std::string(dtype_name(t->dtype())) + ": dtypes must match");
  }
  if (!(eps >= 0.0)) throw ValueError("[layer_norm] eps must be >= 0, got " + std::to_string(eps));
}

std::byte* maybe_data(const Tensor& t) { return t.defined() ? static_cast<std::byte*>(t.data_ptr()) : nullptr; }
std::byte* data_of(const Tensor& t) { return static_cast<std::byte*>(t.data_ptr()); }

struct LayerNormBackward {
  Tensor x, w, mean, rstd;  // x, w in the compute dtype, contiguous; w may be undefined
  Shape affine_shape;  // normalized_shape: the shape of dw and db
  std::int64_t rows, d;
  bool need_x, need_w, need_b;
  DType dtype;

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    std::vector<Tensor> grads(3);
    Tensor dx = need_x ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    Tensor dw = need_w ? Tensor::empty(affine_shape, x.dtype(), x.device()) : Tensor();
    Tensor db = need_b ? Tensor::empty(affine_shape, x.dtype(), x.device()) : Tensor();
    backend::backend_for(x.device())
        .layer_norm_backward(x.dtype(), data_of(g), data_of(x), maybe_data(w), data_of(mean), data_of(rstd),
                             maybe_data(dx), maybe_data(dw), maybe_data(db), rows, d);
    if (need_x) grads[0] = dx.to(dtype);
    if (need_w) grads[1] = dw.to(dtype);
    if (need_b) grads[2] = db.to(dtype);
    return grads;
  }
};

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  check_arguments(x, normalized_shape, weight, bias, eps);
  const std::int64_t d = normalized_shape.numel();
  const std::int64_t rows = d > 0 ? x.numel() / d : 0;
  const Tensor xc = detail::compute_view(x);
  const Tensor wc = weight.defined() ? detail::compute_view(weight) : Tensor();
  const Tensor bc = bias.defined() ? detail::compute_view(bias) : Tensor();
  Tensor y = Tensor::empty(x.shape(), xc.dtype(), x.device());
  Tensor mean = Tensor::empty({rows}, xc.dtype(), x.device());
  Tensor rstd = Tensor::empty({rows}, xc.dtype(), x.device());
  backend::backend_for(x.device())
      .layer_norm_forward(xc.dtype(), data_of(xc), maybe_data(wc), maybe_data(bc), data_of(y), data_of(mean),
                          data_of(rstd), rows, d, eps);
  y = y.to(x.dtype());
  if (autograd::needs_grad({&x, &weight, &bias})) {
    LayerNormBackward backward{xc,
                               wc,
                               mean,
                               rstd,
                               normalized_shape,
                               rows,
                               d,
                               x.requires_grad(),
                               weight.defined() && weight.requires_grad(),
                               bias.defined() && bias.requires_grad(),
                               x.dtype()};
    autograd::record(y, kOp, {&x, &weight, &bias}, std::move(backward));
  }
  return y;
}

}  // namespace dm::nn
