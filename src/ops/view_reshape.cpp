// reshape, view and flatten: new shapes over the same elements in row-major order.
//
// A new shape can view the old storage whenever every new dim lies inside one run of old
// dims that are laid out contiguously with respect to each other; otherwise reshape copies
// (through contiguous()) and view refuses.
#include <optional>
#include <string>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

/// Replaces a single -1 in `requested` by the extent that keeps `numel` elements.
Shape infer_shape(const Shape& requested, std::int64_t numel, const Shape& from, const char* op) {
  int unknown = -1;
  std::int64_t known = 1;
  for (int i = 0; i < requested.size(); ++i) {
    const std::int64_t d = requested[i];
    if (d == -1) {
      if (unknown >= 0)
        throw ShapeError(std::string("[") + op + "] only one dim may be -1, got " + requested.str());
      unknown = i;
    } else if (d < 0) {
      throw ShapeError(std::string("[") + op + "] invalid extent " + std::to_string(d) + " in shape " +
                       requested.str());
    } else {
      const auto product = checked_mul(known, d);
      if (!product)
        throw ShapeError(std::string("[") + op + "] the number of elements of " + requested.str() +
                         " overflows a 64-bit integer");
      known = *product;
    }
  }
  Shape out = requested;
  if (unknown >= 0) {
    if (known == 0)  // 0 * x == 0 for every x: nothing pins the -1 down
      throw ShapeError(std::string("[") + op + "] cannot infer the -1 in " + requested.str() + " for shape " +
                       from.str() + ": the other dims hold no elements");
    if (numel % known == 0) out[unknown] = numel / known;
  }
  if (out.numel() != numel || (unknown >= 0 && numel % known != 0))
    throw ShapeError(std::string("[") + op + "] shape " + from.str() + " (" + std::to_string(numel) +
                     " elements) cannot become " + requested.str());
  return out;
}

/// One maximal run of old dims that step through memory like a single dim would.
struct Chunk {
  std::int64_t numel;
  std::int64_t inner_stride;  // stride of the run's innermost dim
};

/// Strides that read `shape` over the elements of (old_shape, old_strides) in row-major order
/// without moving data, or nothing when no such strides exist.
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& shape) {
  if (old_shape.numel() == 0) return contiguous_strides(shape);  // no element to misplace

  // Size-1 dims constrain nothing, so they are left out of the chunks.
  Chunk chunks[kMaxDims];
  int num_chunks = 0;
  for (int d = 0; d < old_shape.size(); ++d) {
    if (old_shape[d] == 1) continue;
    if (num_chunks > 0) {
      Chunk& last = chunks[num_chunks - 1];
      if (last.inner_stride == old_strides[d] * old_shape[d]) {
        last.numel *= old_shape[d];
        last.inner_stride = old_strides[d];
        continue;
      }
    }
    chunks[num_chunks++] = {old_shape[d], old_strides[d]};
  }

  // Walk the new dims outermost first, carving each chunk into consecutive new dims.
  Strides strides = shape;
  int c = 0;
  std::int64_t remaining = num_chunks > 0 ? chunks[0].numel : 1;
  for (int d = 0; d < shape.size(); ++d) {
    const std::int64_t size = shape[d];
    const std::int64_t inner = c < num_chunks ? chunks[c].inner_stride : 1;
    if (size == 1) {
      strides[d] = remaining * inner;  // any stride works; this one keeps contiguity visible
      continue;
    }
    if (c >= num_chunks || remaining % size != 0) return std::nullopt;  // would straddle two chunks
    remaining /= size;
    strides[d] = remaining * inner;
    if (remaining == 1 && ++c < num_chunks) remaining = chunks[c].numel;
  }
  return strides;
}

}  // namespace

Tensor Tensor::reshape(const Shape& shape) const {
  const auto& im = impl_of(*this, "reshape");
  const Shape target = infer_shape(shape, im.shape.numel(), im.shape, "reshape");
  auto backward = [&] { return autograd::reshape_backward(*this); };
  if (auto strides = view_strides(im.shape, im.strides, target))
    return autograd::differentiable(make_view(*this, target, *strides, im.offset), *this, "reshape", backward);
  const Tensor dense = clone();
  return autograd::differentiable(make_view(dense, target, contiguous_strides(target), 0), *this, "reshape", backward);
}

Tensor Tensor::view(const Shape& shape) const {
  const auto& im = impl_of(*this, "view");
  const Shape target = infer_shape(shape, im.shape.numel(), im.shape, "view");
  if (auto strides = view_strides(im.shape, im.strides, target))
    return autograd::differentiable(make_view(*this, target, *strides, im.offset), *this, "view",
                                    [&] { return autograd::reshape_backward(*this); });
  throw ShapeError("[view] shape " + im.shape.str() + " with strides " + im.strides.str() + " cannot be viewed as " +
                   target.str() + ": a new dim would span memory that is not contiguous; use reshape() to copy");
}

Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  const auto& im = impl_of(*this, "flatten");
  const int ndim = im.shape.size();
  if (ndim == 0) {
    normalize_dim(start_dim, 0, "flatten");
    normalize_dim(end_dim, 0, "flatten");
    return reshape(Shape{1});
  }
  const int start = normalize_dim(start_dim, ndim, "flatten");
  const int end = normalize_dim(end_dim, ndim, "flatten");
  if (start > end)
    throw ShapeError("[flatten] start_dim " + std::to_string(start_dim) + " comes after end_dim " +
                     std::to_string(end_dim) + " for shape " + im.shape.str());
  Shape target;
  for (int d = 0; d < start; ++d) target.push_back(im.shape[d]);
  std::int64_t merged = 1;
  for (int d = start; d <= end; ++d) merged *= im.shape[d];
  target.push_back(merged);
  for (int d = end + 1; d < ndim; ++d) target.push_back(im.shape[d]);
  return reshape(target);
}

}  // namespace dm
