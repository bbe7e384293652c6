// Batch norm (training, with the running statistics it updates, and evaluation) and group norm
// through their public entry points, forward and (through backward()) every gradient, on a
// contiguous input and on one stored with its last two dims swapped, against plain loops.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "democratising/nn/normalization.hpp"
#include "harness.hpp"
#include "host.hpp"

namespace dm::conformance {
namespace {

std::string dt(DType t) { return std::string(dtype_name(t)); }

Tensor leaf(const Host& h, Device d) { return to_tensor(h).to(d).detach().set_requires_grad(); }

// x of `shape` (N, C, ...), either contiguous or stored with its last two dims swapped.
struct NormInput {
  Host stored, logical;
  bool transposed;
};

NormInput input(DType dtype, const Dims& shape, bool transposed, std::uint64_t seed) {
  Dims stored_shape = shape;
  const int last = static_cast<int>(shape.size()) - 1;
  if (transposed) std::swap(stored_shape[static_cast<std::size_t>(last - 1)], stored_shape[static_cast<std::size_t>(last)]);
  const Host stored = make_values(dtype, stored_shape, Values::general, seed);
  return NormInput{stored, transposed ? transpose(stored, last - 1, last) : stored, transposed};
}

Tensor view_of(const Tensor& base, const NormInput& in) {
  return in.transposed ? base.transpose(base.dim() - 2, base.dim() - 1) : base;
}

Host stored_grad(const NormInput& in, const Host& logical_grad) {
  const int last = static_cast<int>(logical_grad.shape.size()) - 1;
  return in.transposed ? transpose(logical_grad, last - 1, last) : logical_grad;
}

// The statistics' sets: element e of x (N, C, S) belongs to set_of(e); `sets` sets in all.
struct Sets {
  std::int64_t n, c, s, groups;
  bool per_channel;  // batch norm: one set per channel; group norm: one per (sample, group)
  std::int64_t count() const { return per_channel ? c : n * groups; }
  std::int64_t of(std::int64_t e) const {
    const std::int64_t i = e / (c * s), ch = (e / s) % c;
    return per_channel ? ch : i * groups + ch / (c / groups);
  }
  std::int64_t channel(std::int64_t e) const { return (e / s) % c; }
};

struct NormResult {
  std::vector<double> y, dx, dw, db, mean, var_biased, var_unbiased;
};

// Plain loops in f64: statistics per set (or given ones), the affine map, and the gradients;
// `batch_stats` false uses mean_in / var_in and leaves them out of the backward.
NormResult reference(const Sets& sets, const std::vector<double>& x, const std::vector<double>& w,
                     const std::vector<double>& b, const std::vector<double>& g, bool batch_stats,
                     const std::vector<double>& mean_in, const std::vector<double>& var_in, double eps) {
  const std::size_t k = static_cast<std::size_t>(sets.count());
  NormResult r;
  r.mean.assign(k, 0.0);
  r.var_biased.assign(k, 0.0);
  std::vector<double> count(k, 0.0);
  for (std::size_t e = 0; e < x.size(); ++e) {
    r.mean[static_cast<std::size_t>(sets.of(static_cast<std::int64_t>(e)))] += x[e];
    count[static_cast<std::size_t>(sets.of(static_cast<std::int64_t>(e)))] += 1.0;
  }
  for (std::size_t j = 0; j < k; ++j) r.mean[j] /= count[j];
  for (std::size_t e = 0; e < x.size(); ++e) {
    const std::size_t j = static_cast<std::size_t>(sets.of(static_cast<std::int64_t>(e)));
    r.var_biased[j] += (x[e] - r.mean[j]) * (x[e] - r.mean[j]);
  }
  r.var_unbiased = r.var_biased;
  for (std::size_t j = 0; j < k; ++j) {
    r.var_unbiased[j] /= count[j] - 1.0;
    r.var_biased[j] /= count[j];
  }
  const std::vector<double>& mean = batch_stats ? r.mean : mean_in;
  const std::vector<double>& var = batch_stats ? r.var_biased : var_in;
  std::vector<double> xhat(x.size()), sum_g(k, 0.0), sum_gx(k, 0.0);
  r.y.resize(x.size());
  r.dx.resize(x.size());
  r.dw.assign(static_cast<std::size_t>(sets.c), 0.0);
  r.db.assign(static_cast<std::size_t>(sets.c), 0.0);
  for (std::size_t e = 0; e < x.size(); ++e) {
    const std::size_t j = static_cast<std::size_t>(sets.of(static_cast<std::int64_t>(e)));
    const std::size_t ch = static_cast<std::size_t>(sets.channel(static_cast<std::int64_t>(e)));
    xhat[e] = (x[e] - mean[j]) / std::sqrt(var[j] + eps);
    r.y[e] = xhat[e] * w[ch] + b[ch];
    r.dw[ch] += g[e] * xhat[e];
    r.db[ch] += g[e];
    sum_g[j] += g[e] * w[ch];
    sum_gx[j] += g[e] * w[ch] * xhat[e];
  }
  for (std::size_t e = 0; e < x.size(); ++e) {
    const std::size_t j = static_cast<std::size_t>(sets.of(static_cast<std::int64_t>(e)));
    const std::size_t ch = static_cast<std::size_t>(sets.channel(static_cast<std::int64_t>(e)));
    const double rstd = 1.0 / std::sqrt(var[j] + eps), dxhat = g[e] * w[ch];
    r.dx[e] = batch_stats ? rstd * (dxhat - sum_g[j] / count[j] - xhat[e] * sum_gx[j] / count[j]) : rstd * dxhat;
  }
  return r;
}

Sets sets_of(const Dims& shape, std::int64_t groups, bool per_channel) {
  std::int64_t s = 1;
  for (std::size_t d = 2; d < shape.size(); ++d) s *= shape[d];
  return {shape[0], shape[1], s, groups, per_channel};
}

void batch_norm_case(Cases& cases, DType dtype, const Dims& shape, bool training, bool transposed,
                     std::uint64_t seed) {
  const std::int64_t c = shape[1];
  const double momentum = 0.1, eps = 1e-5;
  const NormInput x = input(dtype, shape, transposed, seed);
  const Host w = make_values(dtype, {c}, Values::general, seed + 1);
  const Host b = make_values(dtype, {c}, Values::general, seed + 2);
  const Host g = make_values(dtype, shape, Values::general, seed + 3);
  const Host running_mean = make_values(dtype, {c}, Values::general, seed + 4);
  const Host running_var = make_values(dtype, {c}, Values::positive, seed + 5);
  const std::string label = "nn.batch_norm " + dt(dtype) + (training ? " training" : " eval") + " x" +
                            dims_str(shape) + (transposed ? " transposed" : "") + " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor base = leaf(x.stored, d), tw = leaf(w, d), tb = leaf(b, d);
                     Tensor rm = to_tensor(running_mean).to(d), rv = to_tensor(running_var).to(d);
                     Tensor y = nn::batch_norm(view_of(base, x), rm, rv, tw, tb, training, momentum, eps);
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dx", base.grad()), capture("dW", tw.grad()),
                                    capture("db", tb.grad()), capture("running_mean", rm),
                                    capture("running_var", rv)};
                   },
                   [=](const Outputs&) {
                     const NormResult r = reference(sets_of(shape, 1, true), x.logical.v, w.v, b.v, g.v, training,
                                                    running_mean.v, running_var.v, eps);
                     std::vector<double> rm = running_mean.v, rv = running_var.v;
                     if (training)
                       for (std::size_t ch = 0; ch < rm.size(); ++ch) {
                         rm[ch] = momentum * r.mean[ch] + (1.0 - momentum) * rm[ch];
                         rv[ch] = momentum * r.var_unbiased[ch] + (1.0 - momentum) * rv[ch];
                       }
                     const Host dx = stored_grad(x, Host{shape, dtype, r.dx});
                     return Outputs{expect("y", shape, dtype, r.y),         expect("dx", dx.shape, dtype, dx.v),
                                    expect("dW", {c}, dtype, r.dw),         expect("db", {c}, dtype, r.db),
                                    expect("running_mean", {c}, dtype, rm), expect("running_var", {c}, dtype, rv)};
                   }});
}

void group_norm_case(Cases& cases, DType dtype, const Dims& shape, std::int64_t groups, bool transposed,
                     std::uint64_t seed) {
  const std::int64_t c = shape[1];
  const double eps = 1e-5;
  const NormInput x = input(dtype, shape, transposed, seed);
  const Host w = make_values(dtype, {c}, Values::general, seed + 1);
  const Host b = make_values(dtype, {c}, Values::general, seed + 2);
  const Host g = make_values(dtype, shape, Values::general, seed + 3);
  const std::string label = "nn.group_norm " + dt(dtype) + " x" + dims_str(shape) + (transposed ? " transposed" : "") +
                            " groups " + std::to_string(groups) + " forward+backward";
  cases.push_back({label, tol::for_dtype(dtype),
                   [=](Device d) {
                     Tensor base = leaf(x.stored, d), tw = leaf(w, d), tb = leaf(b, d);
                     Tensor y = nn::group_norm(view_of(base, x), groups, tw, tb, eps);
                     y.backward(to_tensor(g).to(d));
                     return Outputs{capture("y", y), capture("dx", base.grad()), capture("dW", tw.grad()),
                                    capture("db", tb.grad())};
                   },
                   [=](const Outputs&) {
                     const NormResult r = reference(sets_of(shape, groups, false), x.logical.v, w.v, b.v, g.v, true,
                                                    {}, {}, eps);
                     const Host dx = stored_grad(x, Host{shape, dtype, r.dx});
                     return Outputs{expect("y", shape, dtype, r.y), expect("dx", dx.shape, dtype, dx.v),
                                    expect("dW", {c}, dtype, r.dw), expect("db", {c}, dtype, r.db)};
                   }});
}

}  // namespace

void add_norm_cases(Cases& cases) {
  std::uint64_t seed = 9500;
  for (DType dtype : {DType::f32, DType::f64})
    for (bool transposed : {false, true}) {
      batch_norm_case(cases, dtype, {5, 3, 4}, true, transposed, seed += 10);
      batch_norm_case(cases, dtype, {3, 4, 5, 2}, true, transposed, seed += 10);
      batch_norm_case(cases, dtype, {4, 3, 6}, false, transposed, seed += 10);
      group_norm_case(cases, dtype, {3, 6, 4, 3}, 3, transposed, seed += 10);
      group_norm_case(cases, dtype, {2, 4, 5}, 1, transposed, seed += 10);
      group_norm_case(cases, dtype, {2, 4, 2, 3}, 4, transposed, seed += 10);
    }
}

}  // namespace dm::conformance
