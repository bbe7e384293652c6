// Views of a range along one dim: slice (Python's start:end:step), narrow and select.
#include <algorithm>
#include <string>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

/// The dim index of a range op, rejecting 0-d tensors, which have no dim to take a range of.
int range_dim(const TensorImpl& im, std::int64_t dim, const char* op) {
  if (im.shape.size() == 0)
    throw ShapeError(std::string("[") + op + "] cannot be applied to a 0-d tensor");
  return normalize_dim(dim, im.shape.size(), op);
}

/// Python's clamping of a slice bound into [0, size].
std::int64_t clamp_bound(std::int64_t bound, std::int64_t size) {
  if (bound < 0) bound = bound < -size ? 0 : bound + size;
  return std::min(bound, size);
}

}  // namespace

Tensor Tensor::slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) const {
  const auto& im = impl_of(*this, "slice");
  const int d = range_dim(im, dim, "slice");
  if (step <= 0) throw ValueError("[slice] step must be positive, got " + std::to_string(step));
  const std::int64_t size = im.shape[d];
  const std::int64_t lo = clamp_bound(start, size);
  const std::int64_t hi = std::max(lo, clamp_bound(end, size));
  Shape shape = im.shape;
  Strides strides = im.strides;
  shape[d] = hi == lo ? 0 : (hi - lo - 1) / step + 1;  // ceil without overflow for huge steps
  if (shape[d] > 1) strides[d] = im.strides[d] * step;  // a lone element needs no step (nor an overflow)
  // An empty slice keeps the base offset, so it never points past the storage.
  const std::int64_t offset = shape[d] > 0 ? im.offset + lo * im.strides[d] : im.offset;
  return autograd::differentiable(make_view(*this, shape, strides, offset), *this, "slice", [&] {
    return autograd::view_scatter_backward(*this, [d, lo, hi, step](const Tensor& z) { return z.slice(d, lo, hi, step); });
  });
}

Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
  const auto& im = impl_of(*this, "narrow");
  const int d = range_dim(im, dim, "narrow");
  const std::int64_t size = im.shape[d];
  if (start < -size || start > size)
    throw ShapeError("[narrow] start " + std::to_string(start) + " out of range for dim " + std::to_string(d) +
                     " of size " + std::to_string(size) + " (shape " + im.shape.str() + ")");
  if (start < 0) start += size;
  if (length < 0 || length > size - start)
    throw ShapeError("[narrow] start " + std::to_string(start) + " + length " + std::to_string(length) +
                     " does not fit dim " + std::to_string(d) + " of size " + std::to_string(size) + " (shape " +
                     im.shape.str() + ")");
  return slice(d, start, start + length);
}

Tensor Tensor::select(std::int64_t dim, std::int64_t index) const {
  const auto& im = impl_of(*this, "select");
  const int d = range_dim(im, dim, "select");
  const std::int64_t size = im.shape[d];
  if (index < -size || index >= size)
    throw ShapeError("[select] index " + std::to_string(index) + " out of range for dim " + std::to_string(d) +
                     " of size " + std::to_string(size) + " (shape " + im.shape.str() + ")");
  if (index < 0) index += size;
  Shape shape = im.shape;
  Strides strides = im.strides;
  shape.erase(d);
  strides.erase(d);
  return autograd::differentiable(make_view(*this, shape, strides, im.offset + index * im.strides[d]), *this, "select",
                                  [&] {
                                    return autograd::view_scatter_backward(
                                        *this, [d, index](const Tensor& z) { return z.select(d, index); });
                                  });
}

}  // namespace dm
