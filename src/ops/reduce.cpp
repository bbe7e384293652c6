// sum, mean, var and std: dims checks, result dtype and shape; the backend does the rest.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ops/op_grads.hpp"
#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"
#include "ops/reduce_layout.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

using reduction::DimMask;

DimMask all_dims(int ndim) { return ndim == 0 ? 0u : static_cast<DimMask>((1u << ndim) - 1u); }

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// torch semantics: negative dims count from the end, an empty list means every dim.
DimMask dims_to_mask(const std::vector<std::int64_t>& dims, const Shape& shape, const char* op) {
  if (dims.empty()) return all_dims(shape.size());
  DimMask mask = 0;
  for (std::int64_t d : dims) {
    const int n = normalize_dim(d, shape.size(), op);
    const DimMask bit = 1u << n;
    if (mask & bit)
      throw ShapeError(std::string("[") + op + "] dim " + std::to_string(n) + " appears more than once in dims " +
                       dims_str(dims) + " for shape " + shape.str());
    mask |= bit;
  }
  return mask;
}

void record_reduction(Tensor& out, const Tensor& self, const std::vector<std::int64_t>* dims, bool keepdim, SumKind kind,
                      std::int64_t correction, const char* op) {
  const std::vector<std::int64_t> d = dims ? *dims : std::vector<std::int64_t>{};
  const bool keep = dims ? keepdim : false;
  autograd::BackwardFn fn;
  switch (kind) {
    case SumKind::sum: fn = autograd::sum_backward(self, d, keep, 1.0); break;
    case SumKind::mean:
      // An empty input has no element to pass a gradient to; any finite scale will do.
      fn = autograd::sum_backward(self, d, keep,
                                  self.numel() == 0 ? 1.0
                                                    : static_cast<double>(out.numel()) / static_cast<double>(self.numel()));
      break;
    case SumKind::var: fn = autograd::var_backward(self, d, correction, keep); break;
    case SumKind::std: fn = autograd::std_backward(self, out, d, correction, keep); break;
  }
  autograd::record(out, op, {&self}, std::move(fn));
}

// `dims` null: every dim.
Tensor reduce_sum_family(const Tensor& self, const std::vector<std::int64_t>* dims, bool keepdim, SumKind kind,
                         std::int64_t correction, const char* op) {
  const TensorImpl& im = reduction::reduction_input(self, op);
  const DimMask mask = dims ? dims_to_mask(*dims, im.shape, op) : all_dims(im.shape.size());
  if (kind != SumKind::sum && !is_floating(im.dtype))
    throw DTypeError(std::string("[") + op + "] needs a floating dtype (f32, f64, bf16), got " +
                     std::string(dtype_name(im.dtype)) + "; convert with .to(DType::f32)");
  const DType out_dtype = is_floating(im.dtype) ? im.dtype : DType::i64;
  const Device device = im.storage->device();
  if (im.shape.numel() == 0) {  // the sum of nothing is 0; its mean and spread are undefined
    const double empty_value = kind == SumKind::sum ? 0.0 : std::numeric_limits<double>::quiet_NaN();
    Tensor result = Tensor::full(reduction::reduced_shape(im.shape, mask, keepdim), empty_value, out_dtype, device);
    // Still part of the graph: backward must reach the input, with an empty gradient.
    if (autograd::needs_grad({&self})) record_reduction(result, self, dims, keepdim, kind, correction, op);
    return result;
  }
  const reduction::ReduceLayout layout = reduction::plan_reduce_layout(self, mask);
  const ReduceGeometry g = layout.geometry;
  Tensor block = make_tensor(Shape{g.outer * g.inner}, out_dtype, device);
  const std::byte* in = layout.dense.impl()->data();
  std::byte* out = block.impl()->data();
  backend_of(im).reduce_sum(kind, in, im.dtype, g, correction, out);
  Tensor result = reduction::arrange_reduced_output(block, im.shape, layout, mask, keepdim);
  if (autograd::needs_grad({&self})) record_reduction(result, self, dims, keepdim, kind, correction, op);
  return result;
}

}  // namespace

Tensor Tensor::sum() const { return reduce_sum_family(*this, nullptr, false, SumKind::sum, 0, "sum"); }

Tensor Tensor::sum(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return reduce_sum_family(*this, &dims, keepdim, SumKind::sum, 0, "sum");
}

Tensor Tensor::mean() const { return reduce_sum_family(*this, nullptr, false, SumKind::mean, 0, "mean"); }

Tensor Tensor::mean(const std::vector<std::int64_t>& dims, bool keepdim) const {
  return reduce_sum_family(*this, &dims, keepdim, SumKind::mean, 0, "mean");
}

// As torch, any integer correction is accepted: the divisor is max(0, n - correction).
Tensor Tensor::var(std::int64_t correction) const {
  return reduce_sum_family(*this, nullptr, false, SumKind::var, correction, "var");
}

Tensor Tensor::var(const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) const {
  return reduce_sum_family(*this, &dims, keepdim, SumKind::var, correction, "var");
}

Tensor Tensor::std(std::int64_t correction) const {
  return reduce_sum_family(*this, nullptr, false, SumKind::std, correction, "std");
}

Tensor Tensor::std(const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) const {
  return reduce_sum_family(*this, &dims, keepdim, SumKind::std, correction, "std");
}

}  // namespace dm
