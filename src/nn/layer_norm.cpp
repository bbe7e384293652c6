// nn::layer_norm with a fused backward.
//
//   x viewed as (rows, D), D = numel(normalized_shape); weight, bias (D) or undefined
//   forward:  mean_r, rstd_r = 1 / sqrt(var_r + eps) (biased variance, two passes in double)
//             xhat = (x - mean) * rstd,  y = xhat * w + b
//   backward: dxhat = g * w
//             dx = rstd * (dxhat - mean_j(dxhat) - xhat * mean_j(dxhat * xhat))
//             dw = sum_r g * xhat,  db = sum_r g   (per column block, rows in order)
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "core/dispatch.hpp"
#include "democratising/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/runtime.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr const char* kOp = "layer_norm";
constexpr std::int64_t kElementsPerBlock = 1 << 15;

std::int64_t block_of(std::int64_t per_item) {
  return std::max<std::int64_t>(1, kElementsPerBlock / std::max<std::int64_t>(per_item, 1));
}

void check_arguments(const Tensor& x, const Shape& shape, const Tensor& w, const Tensor& b, double eps) {
  impl_of(x, kOp);
  detail::require_cpu({&x, &w, &b}, kOp);
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

// x (rows, D) -> y (rows, D), mean (rows), rstd (rows). w, b may be null.
template <class T>
void forward_rows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, std::int64_t rows, std::int64_t d,
                  double eps) {
  par_for(rows, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      double s = 0.0;
      for (std::int64_t j = 0; j < d; ++j) s += static_cast<double>(xr[j]);
      const double mu = s / static_cast<double>(d);
      double ss = 0.0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double c = static_cast<double>(xr[j]) - mu;
        ss += c * c;
      }
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
      mean[r] = static_cast<T>(mu);
      rstd[r] = static_cast<T>(inv);
      T* yr = y + r * d;
      const T m = static_cast<T>(mu), is = static_cast<T>(inv);
      for (std::int64_t j = 0; j < d; ++j) {
        T v = (xr[j] - m) * is;
        if (w) v *= w[j];
        if (b) v += b[j];
        yr[j] = v;
      }
    }
  });
}

// dx (rows, D) from g, x, mean, rstd, w (may be null).
template <class T>
void input_grad_rows(const T* g, const T* x, const T* w, const T* mean, const T* rstd, T* dx, std::int64_t rows,
                     std::int64_t d) {
  par_for(rows, block_of(d), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* gr = g + r * d;
      const T* xr = x + r * d;
      double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
        const double xhat = (static_cast<double>(xr[j]) - mean[r]) * rstd[r];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
      }
      const double a = sum_dxhat / static_cast<double>(d), c = sum_dxhat_xhat / static_cast<double>(d);
      T* out = dx + r * d;
      for (std::int64_t j = 0; j < d; ++j) {
        const double dxhat = static_cast<double>(gr[j]) * (w ? static_cast<double>(w[j]) : 1.0);
        const double xhat = (static_cast<double>(xr[j]) - mean[r]) * rstd[r];
        out[j] = static_cast<T>(rstd[r] * (dxhat - a - xhat * c));
      }
    }
  });
}

// dw (D) = sum_r g * xhat, db (D) = sum_r g; either may be null.
template <class T>
void affine_grad_columns(const T* g, const T* x, const T* mean, const T* rstd, T* dw, T* db, std::int64_t rows,
                         std::int64_t d) {
  par_for(d, std::max<std::int64_t>(64, block_of(rows)), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t j = c0; j < c1; ++j) {
      if (dw) dw[j] = T(0);
      if (db) db[j] = T(0);
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * d;
      const T* xr = x + r * d;
      for (std::int64_t j = c0; j < c1; ++j) {
        if (dw) dw[j] += gr[j] * ((xr[j] - mean[r]) * rstd[r]);
        if (db) db[j] += gr[j];
      }
    }
  });
}

template <class T>
T* maybe_data(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

struct LayerNormBackward {
  Tensor x, w, mean, rstd;  // x, w in the compute dtype, contiguous; w may be undefined
  Shape affine_shape;  // normalized_shape: the shape of dw and db
  std::int64_t rows, d;
  bool need_x, need_w, need_b;
  DType dtype;

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    std::vector<Tensor> grads(3);
    dispatch_float(x.dtype(), kOp, [&]<class T>(TypeTag<T>) {
      if (need_x) {
        Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        input_grad_rows(g.data<T>(), x.data<T>(), maybe_data<T>(w), mean.data<T>(), rstd.data<T>(), dx.data<T>(), rows,
                        d);
        grads[0] = dx.to(dtype);
      }
      if (need_w || need_b) {
        Tensor dw = need_w ? Tensor::empty(affine_shape, x.dtype(), x.device()) : Tensor();
        Tensor db = need_b ? Tensor::empty(affine_shape, x.dtype(), x.device()) : Tensor();
        affine_grad_columns(g.data<T>(), x.data<T>(), mean.data<T>(), rstd.data<T>(), maybe_data<T>(dw),
                            maybe_data<T>(db), rows, d);
        if (need_w) grads[1] = dw.to(dtype);
        if (need_b) grads[2] = db.to(dtype);
      }
    });
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
  dispatch_float(xc.dtype(), kOp, [&]<class T>(TypeTag<T>) {
    forward_rows(xc.data<T>(), maybe_data<T>(wc), maybe_data<T>(bc), y.data<T>(), mean.data<T>(), rstd.data<T>(), rows,
                 d, eps);
  });
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
