// max, min, argmax, argmin: over everything or over one dim; the backend does the scan.
// As torch, NaN wins (max and min of a slice holding NaN are NaN, arg* point at the first
// NaN) and ties go to the first occurrence.
#include <cstdint>
#include <string>

#include "ops/op_grads.hpp"
#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"
#include "ops/reduce_layout.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

using reduction::DimMask;

enum class Want { values, indices };

Tensor run_extreme(const Tensor& x, DimMask mask, bool keepdim, Extreme kind, Want want) {
  const TensorImpl& im = *x.impl();
  const reduction::ReduceLayout layout = reduction::plan_reduce_layout(x, mask);
  const ReduceGeometry g = layout.geometry;
  const bool indices = want == Want::indices;
  Tensor block = make_tensor(Shape{g.outer * g.inner}, indices ? DType::i64 : im.dtype, im.storage->device());
  std::byte* out = block.impl()->data();
  backend_of(im).reduce_extreme(kind, layout.dense.impl()->data(), im.dtype, g, indices ? nullptr : out,
                      indices ? reinterpret_cast<std::int64_t*>(out) : nullptr);
  return reduction::arrange_reduced_output(block, im.shape, layout, mask, keepdim);
}

// Over the flattened tensor: a 0-d result; an index counts in row-major order.
Tensor extreme_all(const Tensor& self, Extreme kind, Want want, const char* op) {
  const TensorImpl& im = reduction::reduction_input(self, op);
  if (im.shape.numel() == 0)
    throw ShapeError(std::string("[") + op + "] empty tensor of shape " + im.shape.str() +
                     " has no elements to reduce; reduce over a non-empty dim instead");
  const int nd = im.shape.size();
  const DimMask all = nd == 0 ? 0u : static_cast<DimMask>((1u << nd) - 1u);
  // The kernel's index is a memory position; contiguous makes it the row-major index.
  const Tensor x = want == Want::indices ? self.contiguous() : self;
  return run_extreme(x, all, false, kind, want);
}

Tensor extreme_dim(const Tensor& self, std::int64_t dim, bool keepdim, Extreme kind, Want want, const char* op) {
  const TensorImpl& im = reduction::reduction_input(self, op);
  const int nd = im.shape.size();
  const int d = normalize_dim(dim, nd, op);
  const DimMask mask = nd == 0 ? 0u : (1u << d);
  if (im.shape.numel() == 0) {
    if (nd > 0 && im.shape[d] == 0)
      throw ShapeError(std::string("[") + op + "] cannot reduce dim " + std::to_string(d) + " of size 0 in shape " +
                       im.shape.str());
    return make_tensor(reduction::reduced_shape(im.shape, mask, keepdim), want == Want::indices ? DType::i64 : im.dtype,
                       im.storage->device());
  }
  return run_extreme(self, mask, keepdim, kind, want);
}

// The values of max/min are differentiable (the gradient goes to the extreme elements).
Tensor differentiable(Tensor out, const Tensor& self, std::vector<std::int64_t> dims, bool keepdim, const char* op) {
  if (autograd::needs_grad({&self})) autograd::record(out, op, {&self}, autograd::extreme_backward(self, out, dims, keepdim));
  return out;
}

}  // namespace

Tensor Tensor::max() const { return differentiable(extreme_all(*this, Extreme::max, Want::values, "max"), *this, {}, false, "max"); }
Tensor Tensor::max(std::int64_t dim, bool keepdim) const {
  return differentiable(extreme_dim(*this, dim, keepdim, Extreme::max, Want::values, "max"), *this, {dim}, keepdim, "max");
}
Tensor Tensor::min() const { return differentiable(extreme_all(*this, Extreme::min, Want::values, "min"), *this, {}, false, "min"); }
Tensor Tensor::min(std::int64_t dim, bool keepdim) const {
  return differentiable(extreme_dim(*this, dim, keepdim, Extreme::min, Want::values, "min"), *this, {dim}, keepdim, "min");
}
Tensor Tensor::argmax() const { return extreme_all(*this, Extreme::max, Want::indices, "argmax"); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const {
  return extreme_dim(*this, dim, keepdim, Extreme::max, Want::indices, "argmax");
}
Tensor Tensor::argmin() const { return extreme_all(*this, Extreme::min, Want::indices, "argmin"); }
Tensor Tensor::argmin(std::int64_t dim, bool keepdim) const {
  return extreme_dim(*this, dim, keepdim, Extreme::min, Want::indices, "argmin");
}

}  // namespace dm
