// nn::batch_norm with a fused backward: checks here, the passes in the backend.
//
//   x (N, C, *) viewed as (N, C, S), S = the product of the trailing dims (1 for (N, C));
//   weight, bias, running_mean, running_var (C) or undefined
//
// With a BatchStatisticsReducer installed (democratising/nn/batch_statistics.hpp), training
// statistics and the backward's two gradient sums are those of every participant's shard
// together; the kernels then run in parts, around the two exchanges.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "backend/backend.hpp"
#include "batch_norm_apply.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/nn/batch_statistics.hpp"
#include "democratising/nn/normalization.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

std::string prefix(const char* op) { return std::string("[") + op + "] "; }

void check_arguments(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& w,
                     const Tensor& b, bool training, bool shared, double eps, const char* op) {
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
  // Shared statistics count the values of every shard, checked once they are known.
  if (training && !shared && x.numel() / std::max<std::int64_t>(channels, 1) <= 1)
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

// Every participant's `local` (n), stacked: (participants, n), checked.
Tensor exchange(BatchStatisticsReducer& reducer, const Tensor& local, const char* op) {
  const Tensor all = reducer.all_gather(local);
  if (!all.defined() || all.dim() != 2 || all.size(0) < 1 || all.size(1) != local.numel() || all.dtype() != DType::f64)
    throw ValueError(prefix(op) + "the batch statistics reducer returned " +
                     (all.defined() ? all.shape().str() + " " + std::string(dtype_name(all.dtype()))
                                    : std::string("an undefined tensor")) +
                     " for f64 statistics of " + std::to_string(local.numel()) + " values per participant");
  return all.to(local.device()).contiguous();
}

struct BatchNormBackward {
  Tensor x, w, mean, invstd;  // x, w in the compute dtype, contiguous; w may be undefined
  backend::NormGeometry geo;
  bool training;
  bool need_x, need_w, need_b;
  DType dtype;
  // Shared statistics only: the participants, and the number of values per channel of them all.
  std::shared_ptr<BatchStatisticsReducer> reducer;
  double count = 0.0;
  const char* op = "batch_norm";

  std::vector<Tensor> operator()(const Tensor& grad) const {
    const Tensor g = detail::compute_view(grad);
    if (reducer) return shared(g);
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

  // dw and db are this shard's own sums (the trainer adds the participants' parameter
  // gradients up); dx needs the sums over every shard, so the exchange runs whatever is needed.
  std::vector<Tensor> shared(const Tensor& g) const {
    backend::Backend& be = backend::backend_for(x.device());
    const std::int64_t c = geo.channels;
    Tensor sums = Tensor::empty(Shape{2 * c}, DType::f64, x.device());
    be.batch_norm_backward_sums(x.dtype(), geo, data_of(g), data_of(x), data_of(mean), data_of(invstd), data_of(sums));
    const Tensor total = exchange(*reducer, sums, op).sum({0}).contiguous();
    std::vector<Tensor> grads(3);
    if (need_x) {
      Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
      be.batch_norm_backward_input(x.dtype(), geo, data_of(g), data_of(x), maybe_data(w), data_of(mean),
                                   data_of(invstd), data_of(total), count, data_of(dx));
      grads[0] = dx.to(dtype);
    }
    // Rounded to the compute dtype first, as the plain kernel's are.
    if (need_w) grads[1] = sums.narrow(0, c, c).to(x.dtype()).to(dtype);
    if (need_b) grads[2] = sums.narrow(0, 0, c).to(x.dtype()).to(dtype);
    return grads;
  }
};

// Training statistics of every participant's shard together: this shard's moments, exchanged,
// combined in participant order; then y from them. Fills mean, invstd and r.batch_* (compute
// dtype) and returns the number of values per channel over all shards.
double shared_forward(BatchStatisticsReducer& reducer, const Tensor& xc, const Tensor& wc, const Tensor& bc,
                      const backend::NormGeometry& geo, double eps, const char* op, Tensor& y, Tensor& mean,
                      Tensor& invstd, detail::BatchNormResult& r) {
  backend::Backend& be = backend::backend_for(xc.device());
  const std::int64_t c = geo.channels;
  Tensor local = Tensor::empty(Shape{1 + 2 * c}, DType::f64, xc.device());
  be.batch_norm_statistics(xc.dtype(), geo, data_of(xc), data_of(local));
  const Tensor all = exchange(reducer, local, op);
  const double count = all.select(1, 0).sum().item<double>();
  if (count <= 1.0)
    throw ShapeError(prefix(op) + "expected more than 1 value per channel when training, got " +
                     std::to_string(static_cast<std::int64_t>(count)) + " over the " + std::to_string(all.size(0)) +
                     " participants (x " + xc.shape().str() + " here)");
  Tensor combined = Tensor::empty(Shape{3 * c}, DType::f64, xc.device());
  be.batch_norm_combine_statistics(all.size(0), c, data_of(all), eps, data_of(combined));
  const Tensor global_mean = combined.narrow(0, 0, c), global_invstd = combined.narrow(0, c, c);
  be.batch_norm_normalize(xc.dtype(), geo, data_of(xc), maybe_data(wc), maybe_data(bc), data_of(global_mean),
                          data_of(global_invstd), data_of(y));
  const DType dtype = xc.dtype();
  mean = global_mean.to(dtype).contiguous();
  invstd = global_invstd.to(dtype).contiguous();
  r.batch_mean = mean;
  r.batch_var = combined.narrow(0, 2 * c, c).to(dtype).contiguous();
  return count;
}

}  // namespace

namespace detail {

BatchNormResult batch_norm_apply(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                 const Tensor& weight, const Tensor& bias, bool training, double eps, const char* op) {
  const std::shared_ptr<BatchStatisticsReducer> reducer = training ? batch_statistics_reducer() : nullptr;
  check_arguments(x, running_mean, running_var, weight, bias, training, reducer != nullptr, eps, op);
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
  Tensor mean, invstd;
  double count = 0.0;
  if (reducer) {
    count = shared_forward(*reducer, xc, wc, bc, geo, eps, op, y, mean, invstd, r);
  } else {
    mean = Tensor::empty(per_channel, dtype, x.device());
    invstd = Tensor::empty(per_channel, dtype, x.device());
    if (training) r.batch_var = Tensor::empty(per_channel, dtype, x.device());
    backend::backend_for(x.device())
        .batch_norm_forward(dtype, geo, data_of(xc), maybe_data(wc), maybe_data(bc), maybe_data(rm), maybe_data(rv),
                            training, eps, data_of(y), data_of(mean), data_of(invstd), maybe_data(r.batch_var));
    if (training) r.batch_mean = mean;
  }
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
                               x.dtype(),
                               reducer,
                               count,
                               op};
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
