// Backward formulas of views, copies and joins.
#include <cstring>

#include "base/dispatch.hpp"
#include "democratising/autograd/autograd.hpp"
#include "democratising/core/tensor.hpp"
#include "op_grads.hpp"

namespace dm::autograd {

// Views and copies read no values in backward, only shapes: each declares an empty list of
// saved tensors, so changing their input in place later does not refuse the pass.

BackwardFn reshape_backward(const Tensor& a) {
  const Shape shape = a.shape();
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {g.reshape(shape)}; }, {});
}

BackwardFn transpose_backward(std::int64_t dim0, std::int64_t dim1) {
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {g.transpose(dim0, dim1)}; }, {});
}

BackwardFn permute_backward(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> inverse(dims.size());
  const auto n = static_cast<std::int64_t>(dims.size());
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t d = dims[static_cast<std::size_t>(i)] < 0 ? dims[static_cast<std::size_t>(i)] + n : dims[static_cast<std::size_t>(i)];
    inverse[static_cast<std::size_t>(d)] = i;
  }
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {g.permute(inverse)}; }, {});
}

BackwardFn view_scatter_backward(const Tensor& a, std::function<Tensor(const Tensor&)> take) {
  const Shape shape = a.shape();
  const DType dtype = a.dtype();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga = Tensor::zeros(shape, dtype, g.device());
    take(ga).copy_(g);
    return {ga};
  };
  return BackwardFn(std::move(fn), {});
}

BackwardFn index_select_backward(const Tensor& a, std::int64_t dim, const Tensor& index0) {
  const Shape shape = a.shape();
  const DType dtype = a.dtype();
  const Tensor index = index0.to(DType::i64).contiguous();
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    // Rows picked several times receive the sum of their gradients.
    Tensor ga = Tensor::zeros(shape, dtype, g.device());
    const std::int64_t* idx = index.data<std::int64_t>();
    for (std::int64_t i = 0; i < index.numel(); ++i) {
      Tensor row = ga.select(dim, idx[i]);
      row.add_(g.select(dim, i));
    }
    return {ga};
  };
  return BackwardFn(std::move(fn), {index});
}

BackwardFn expand_backward(const Tensor& a) {
  const Shape shape = a.shape();
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {reduce_to_shape(g, shape)}; }, {});
}

BackwardFn identity_backward(const Tensor& a) {
  // Also the backward of to(dtype) and to(device): the gradient goes back in the input's form.
  const DType dtype = a.dtype();
  const Device device = a.device();
  return BackwardFn([=](const Tensor& g) -> std::vector<Tensor> { return {g.to(dtype).to(device)}; }, {});
}

BackwardFn cat_backward(const std::vector<Tensor>& inputs, std::int64_t dim) {
  std::vector<std::int64_t> sizes;
  std::vector<bool> needed;
  for (const auto& t : inputs) {
    sizes.push_back(t.size(dim));
    needed.push_back(t.requires_grad());
  }
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    std::vector<Tensor> out;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      out.push_back(needed[i] ? g.narrow(dim, offset, sizes[i]) : Tensor());
      offset += sizes[i];
    }
    return out;
  };
  return BackwardFn(std::move(fn), {});
}

BackwardFn stack_backward(std::size_t count, std::int64_t dim) {
  auto fn = [=](const Tensor& g) -> std::vector<Tensor> {
    std::vector<Tensor> out;
    for (std::size_t i = 0; i < count; ++i) out.push_back(g.select(dim, static_cast<std::int64_t>(i)));
    return out;
  };
  return BackwardFn(std::move(fn), {});
}

bool needs_grad_any(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

}  // namespace dm::autograd
