// Views that rearrange, add or drop dims without touching data: transpose, t, permute,
// squeeze, unsqueeze and expand. Each only rewrites shape and strides, so they work for
// tensors on any device.
#include <string>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

std::string list_str(const std::vector<std::int64_t>& v) {
  std::string s = "(";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

}  // namespace

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
  const auto& im = impl_of(*this, "transpose");
  const int ndim = im.shape.size();
  const int a = normalize_dim(dim0, ndim, "transpose");
  const int b = normalize_dim(dim1, ndim, "transpose");
  Shape shape = im.shape;
  Strides strides = im.strides;
  if (ndim > 0) {  // a 0-d tensor accepts dims 0 and -1 and has nothing to swap
    std::swap(shape[a], shape[b]);
    std::swap(strides[a], strides[b]);
  }
  return autograd::differentiable(make_view(*this, shape, strides, im.offset), *this, "transpose",
                                  [&] { return autograd::transpose_backward(a, b); });
}

Tensor Tensor::t() const {
  const auto& im = impl_of(*this, "t");
  if (im.shape.size() > 2)
    throw ShapeError("[t] expects a tensor with at most 2 dims, got shape " + im.shape.str() +
                     "; use transpose() or permute()");
  if (im.shape.size() < 2) return *this;
  return transpose(0, 1);
}

Tensor Tensor::permute(const std::vector<std::int64_t>& dims) const {
  const auto& im = impl_of(*this, "permute");
  const int ndim = im.shape.size();
  if (static_cast<int>(dims.size()) != ndim)
    throw ShapeError("[permute] " + list_str(dims) + " names " + std::to_string(dims.size()) +
                     " dims but the tensor of shape " + im.shape.str() + " has " + std::to_string(ndim));
  bool seen[kMaxDims] = {};
  Shape shape = im.shape;
  Strides strides = im.strides;
  for (int i = 0; i < ndim; ++i) {
    const int d = normalize_dim(dims[static_cast<std::size_t>(i)], ndim, "permute");
    if (seen[d])
      throw ShapeError("[permute] " + list_str(dims) + " is not a permutation of the dims of shape " +
                       im.shape.str() + ": dim " + std::to_string(d) + " appears twice");
    seen[d] = true;
    shape[i] = im.shape[d];
    strides[i] = im.strides[d];
  }
  return autograd::differentiable(make_view(*this, shape, strides, im.offset), *this, "permute",
                                  [&] { return autograd::permute_backward(dims); });
}

Tensor Tensor::squeeze() const {
  const auto& im = impl_of(*this, "squeeze");
  Shape shape;
  Strides strides;
  for (int d = 0; d < im.shape.size(); ++d) {
    if (im.shape[d] == 1) continue;
    shape.push_back(im.shape[d]);
    strides.push_back(im.strides[d]);
  }
  return autograd::differentiable(make_view(*this, shape, strides, im.offset), *this, "squeeze",
                                  [&] { return autograd::reshape_backward(*this); });
}

Tensor Tensor::squeeze(std::int64_t dim) const {
  const auto& im = impl_of(*this, "squeeze");
  const int d = normalize_dim(dim, im.shape.size(), "squeeze");
  Shape shape = im.shape;
  Strides strides = im.strides;
  if (im.shape.size() > 0 && im.shape[d] == 1) {  // like torch, other extents are left alone
    shape.erase(d);
    strides.erase(d);
  }
  return autograd::differentiable(make_view(*this, shape, strides, im.offset), *this, "squeeze",
                                  [&] { return autograd::reshape_backward(*this); });
}

Tensor Tensor::unsqueeze(std::int64_t dim) const {
  const auto& im = impl_of(*this, "unsqueeze");
  const int ndim = im.shape.size();
  if (dim < -ndim - 1 || dim > ndim)
    throw ShapeError("[unsqueeze] dim " + std::to_string(dim) + " out of range [" + std::to_string(-ndim - 1) +
                     ", " + std::to_string(ndim) + "] for shape " + im.shape.str());
  if (ndim == kMaxDims)
    throw ShapeError("[unsqueeze] shape " + im.shape.str() + " already has the maximum of " +
                     std::to_string(kMaxDims) + " dims");
  const int d = static_cast<int>(dim < 0 ? dim + ndim + 1 : dim);
  // The new dim gets the stride it would have in a contiguous tensor, so is_contiguous holds
  // whenever it held before.
  const std::int64_t stride = d < ndim ? im.strides[d] * im.shape[d] : 1;
  Shape shape = im.shape;
  Strides strides = im.strides;
  shape.insert(d, 1);
  strides.insert(d, stride);
  return autograd::differentiable(make_view(*this, shape, strides, im.offset), *this, "unsqueeze",
                                  [&] { return autograd::reshape_backward(*this); });
}

Tensor Tensor::expand(const Shape& shape) const {
  const auto& im = impl_of(*this, "expand");
  const int n = shape.size(), m = im.shape.size();
  auto fail = [&](const std::string& why) {
    return ShapeError("[expand] cannot expand shape " + im.shape.str() + " to " + shape.str() + ": " + why);
  };
  if (n < m) throw fail("the target has fewer dims");
  Shape out_shape = shape;
  Strides out_strides = shape;
  for (int i = 0; i < n; ++i) {
    const int j = i - (n - m);  // the matching dim of this tensor, < 0 for a new leading dim
    const std::int64_t want = shape[i];
    if (want < -1) throw fail("invalid extent " + std::to_string(want));
    if (j < 0) {
      if (want == -1) throw fail("-1 is not allowed for the new leading dim " + std::to_string(i));
      out_strides[i] = 0;
    } else if (want == -1 || want == im.shape[j]) {
      out_shape[i] = im.shape[j];
      out_strides[i] = im.strides[j];
    } else if (im.shape[j] == 1) {
      out_strides[i] = 0;  // every index along this dim reads the one element
    } else {
      throw fail("dim " + std::to_string(i) + " has size " + std::to_string(im.shape[j]) + ", not 1");
    }
  }
  return autograd::differentiable(make_view(*this, out_shape, out_strides, im.offset), *this, "expand",
                                  [&] { return autograd::expand_backward(*this); });
}

}  // namespace dm
