// Backward formulas of the reductions and softmax family.
#include <algorithm>

#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "op_grads.hpp"

namespace dm::autograd {
namespace {

// The dims a reduction removed, sorted. A 0-d input has none: `x.sum({0})` on a 0-d x names
// dim 0 only as torch allows, and its result is 0-d again.
std::vector<std::int64_t> normalized_dims(const std::vector<std::int64_t>& dims, int ndim) {
  std::vector<std::int64_t> out;
  if (ndim == 0) return out;
  if (dims.empty()) {
    for (int d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (auto d : dims) out.push_back(normalize_dim(d, ndim, "backward"));
  std::sort(out.begin(), out.end());
  return out;
}

// A reduced tensor (dims removed unless keepdim) brought back to the input's rank, so it
// broadcasts against the input.
Tensor unsqueeze_reduced(const Tensor& t, const std::vector<std::int64_t>& dims, bool keepdim, int ndim) {
  if (keepdim) return t;
  Tensor r = t;
  for (auto d : normalized_dims(dims, ndim)) r = r.unsqueeze(d);
  return r;
}

std::int64_t reduced_count(const Shape& shape, const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (auto d : normalized_dims(dims, shape.size())) n *= shape[static_cast<int>(d)];
  return n;
}

}  // namespace

BackwardFn sum_backward(const Tensor& a, const std::vector<std::int64_t>& dims, bool keepdim, double scale) {
  const Shape shape = a.shape();
  const DType dtype = a.dtype();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor gb = unsqueeze_reduced(g, dims, keepdim, shape.size());
    if (scale != 1.0) gb = gb * scale;
    Tensor ga = gb.expand(shape);
    return {ga.dtype() == dtype ? ga : ga.to(dtype)};
  };
  return BackwardFn(std::move(fn), {});
}

BackwardFn extreme_backward(const Tensor& a0, const Tensor& out0, const std::vector<std::int64_t>& dims, bool keepdim) {
  const Tensor a = a0.detach(), out = out0.detach();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    const int nd = a.dim();
    const Tensor hits = a.eq(unsqueeze_reduced(out, dims, keepdim, nd)).to(a.dtype());
    const auto ndims = normalized_dims(dims, nd);
    const Tensor count = hits.sum(ndims, /*keepdim=*/true);
    return {unsqueeze_reduced(g, dims, keepdim, nd) * hits / count};
  };
  return BackwardFn(std::move(fn), {a, out});
}

BackwardFn var_backward(const Tensor& a0, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) {
  const Tensor a = a0.detach();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    const auto nd = normalized_dims(dims, a.dim());
    const double denom = static_cast<double>(reduced_count(a.shape(), dims) - correction);
    const Tensor centred = a - a.mean(nd, true);
    return {unsqueeze_reduced(g, dims, keepdim, a.dim()) * centred * (2.0 / denom)};
  };
  return BackwardFn(std::move(fn), {a});
}

BackwardFn std_backward(const Tensor& a0, const Tensor& out0, const std::vector<std::int64_t>& dims,
                        std::int64_t correction, bool keepdim) {
  const Tensor a = a0.detach(), out = out0.detach();
  GradientFn through_var = var_backward(a0, dims, correction, keepdim).function();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    // d std = d var / (2 std). Where the values are all equal std is 0 and so is every
    // deviation: the gradient is 0 there (torch's choice), not 0/0; selected, so that even an
    // infinite g stays out.
    const Tensor zero = Tensor::zeros({}, g.dtype(), g.device());
    return through_var(where(out.eq(0.0), zero, g / (out * 2.0)));
  };
  return BackwardFn(std::move(fn), {a, out});
}

BackwardFn softmax_backward(const Tensor& out0, std::int64_t dim) {
  const Tensor y = out0.detach();
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {y * (g - (g * y).sum({dim}, true))}; }, {y});
}

BackwardFn log_softmax_backward(const Tensor& out0, std::int64_t dim) {
  const Tensor y = out0.detach();
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {g - y.exp() * g.sum({dim}, true)}; }, {y});
}

BackwardFn logsumexp_backward(const Tensor& a0, const Tensor& out0, std::int64_t dim, bool keepdim) {
  const Tensor a = a0.detach(), out = out0.detach();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    const std::vector<std::int64_t> dims{dim};
    return {unsqueeze_reduced(g, dims, keepdim, a.dim()) * (a - unsqueeze_reduced(out, dims, keepdim, a.dim())).exp()};
  };
  return BackwardFn(std::move(fn), {a, out});
}

}  // namespace dm::autograd
