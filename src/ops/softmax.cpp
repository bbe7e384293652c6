// softmax, log_softmax and logsumexp over one dim: checks and shapes; see
// the backends for the numerics (max subtracted, f64 sums).
#include <cstdint>
#include <limits>
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

struct SoftmaxInput {
  const TensorImpl* impl;
  DimMask mask;
};

SoftmaxInput check_softmax_input(const Tensor& self, std::int64_t dim, const char* op) {
  const TensorImpl& im = reduction::reduction_input(self, op);
  if (!is_floating(im.dtype))
    throw DTypeError(std::string("[") + op + "] needs a floating dtype (f32, f64, bf16), got " +
                     std::string(dtype_name(im.dtype)) + "; convert with .to(DType::f32)");
  const int nd = im.shape.size();
  const int d = normalize_dim(dim, nd, op);
  return {&im, nd == 0 ? 0u : (1u << d)};
}

Tensor softmax_family(const Tensor& self, std::int64_t dim, SoftmaxKind kind, const char* op) {
  const auto [im, mask] = check_softmax_input(self, dim, op);
  const Device device = im->storage->device();
  if (im->shape.numel() == 0) return make_tensor(im->shape, im->dtype, device);
  const reduction::ReduceLayout layout = reduction::plan_reduce_layout(self, mask);
  // The kernel writes the output in the dense input's memory layout.
  Tensor block = make_tensor(Shape{im->shape.numel()}, im->dtype, device);
  backend_of(*im).softmax(kind, layout.dense.impl()->data(), im->dtype, layout.geometry, block.impl()->data());
  return make_view(block, im->shape, layout.dense.impl()->strides, 0).contiguous();
}

}  // namespace

Tensor Tensor::softmax(std::int64_t dim) const {
  Tensor out = softmax_family(*this, dim, SoftmaxKind::softmax, "softmax");
  if (autograd::needs_grad({this})) autograd::record(out, "softmax", {this}, autograd::softmax_backward(out, dim));
  return out;
}

Tensor Tensor::log_softmax(std::int64_t dim) const {
  Tensor out = softmax_family(*this, dim, SoftmaxKind::log_softmax, "log_softmax");
  if (autograd::needs_grad({this})) autograd::record(out, "log_softmax", {this}, autograd::log_softmax_backward(out, dim));
  return out;
}

Tensor Tensor::logsumexp(std::int64_t dim, bool keepdim) const {
  const auto [im, mask] = check_softmax_input(*this, dim, "logsumexp");
  const Device device = im->storage->device();
  Tensor out;
  if (im->shape.numel() == 0) {  // log of an empty sum is -inf; still recorded, for an empty gradient
    out = Tensor::full(reduction::reduced_shape(im->shape, mask, keepdim), -std::numeric_limits<double>::infinity(),
                       im->dtype, device);
  } else {
    const reduction::ReduceLayout layout = reduction::plan_reduce_layout(*this, mask);
    const ReduceGeometry g = layout.geometry;
    Tensor block = make_tensor(Shape{g.outer * g.inner}, im->dtype, device);
    backend_of(*im).logsumexp(layout.dense.impl()->data(), im->dtype, g, block.impl()->data());
    out = reduction::arrange_reduced_output(block, im->shape, layout, mask, keepdim);
  }
  if (autograd::needs_grad({this}))
    autograd::record(out, "logsumexp", {this}, autograd::logsumexp_backward(*this, out, dim, keepdim));
  return out;
}

}  // namespace dm
