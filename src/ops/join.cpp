// cat and stack: join several tensors into one fresh tensor. Each input is copied into its
// own view of the output (narrow for cat, select for stack) by copy_, which handles any
// input strides on any device (on the CPU it runs on the pool).
#include <string>
#include <vector>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "democratising/autograd/autograd.hpp"
#include "core/tensor_impl.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"

namespace dm {
namespace {

/// Checks what cat and stack share: a non-empty list of defined tensors with one dtype on one
/// device. Returns that device.
Device check_joinable(const std::vector<Tensor>& tensors, const char* op) {
  if (tensors.empty()) throw ValueError(std::string("[") + op + "] needs at least one tensor, got an empty list");
  const auto& first = impl_of(tensors[0], op);
  const Device device = first.storage->device();
  for (std::size_t i = 1; i < tensors.size(); ++i) {
    const auto& im = impl_of(tensors[i], op);
    if (im.dtype != first.dtype)
      throw DTypeError(std::string("[") + op + "] tensor " + std::to_string(i) + " is " +
                       std::string(dtype_name(im.dtype)) + " but tensor 0 is " + std::string(dtype_name(first.dtype)));
    if (im.storage->device() != device)
      throw DeviceError(std::string("[") + op + "] tensors are on different devices: tensor 0 on " + device.str() +
                        ", tensor " + std::to_string(i) + " on " + im.storage->device().str());
  }
  return device;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  const Device device = check_joinable(tensors, "cat");
  const Shape& first = tensors[0].shape();
  if (first.size() == 0) throw ShapeError("[cat] tensor 0 is 0-d and has no dim to join along");
  const int d = normalize_dim(dim, first.size(), "cat");

  Shape out_shape = first;
  out_shape[d] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Shape& s = tensors[i].shape();
    bool fits = s.size() == first.size();
    for (int k = 0; fits && k < s.size(); ++k) fits = k == d || s[k] == first[k];
    if (!fits)
      throw ShapeError("[cat] shapes " + first.str() + " (tensor 0) and " + s.str() + " (tensor " +
                       std::to_string(i) + ") cannot be joined along dim " + std::to_string(d) +
                       ": all other dims must match");
    out_shape[d] += s[d];
  }

  Tensor out = make_tensor(out_shape, tensors[0].dtype(), device);
  std::int64_t offset = 0;
  {
    NoGradGuard own_writes;  // filling the fresh output; cat records itself below
    for (const Tensor& t : tensors) {
      const std::int64_t n = t.shape()[d];
      if (n == 0) continue;
      Tensor part = out.narrow(d, offset, n);
      part.copy_(t);
      offset += n;
    }
  }
  if (autograd::needs_grad_any(tensors)) autograd::record_many(out, "cat", tensors, autograd::cat_backward(tensors, d));
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  const Device device = check_joinable(tensors, "stack");
  const Shape& first = tensors[0].shape();
  const int ndim = first.size();
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (!(tensors[i].shape() == first))
      throw ShapeError("[stack] shapes " + first.str() + " (tensor 0) and " + tensors[i].shape().str() + " (tensor " +
                       std::to_string(i) + ") differ; stack needs equal shapes");
  if (dim < -ndim - 1 || dim > ndim)
    throw ShapeError("[stack] dim " + std::to_string(dim) + " out of range [" + std::to_string(-ndim - 1) + ", " +
                     std::to_string(ndim) + "] for shape " + first.str());
  if (ndim == kMaxDims)
    throw ShapeError("[stack] shape " + first.str() + " already has the maximum of " + std::to_string(kMaxDims) +
                     " dims");
  const int d = static_cast<int>(dim < 0 ? dim + ndim + 1 : dim);

  Shape out_shape = first;
  out_shape.insert(d, static_cast<std::int64_t>(tensors.size()));
  Tensor out = make_tensor(out_shape, tensors[0].dtype(), device);
  if (out.numel() == 0) return out;
  {
    NoGradGuard own_writes;  // filling the fresh output; stack records itself below
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      Tensor part = out.select(d, static_cast<std::int64_t>(i));
      part.copy_(tensors[i]);
    }
  }
  if (autograd::needs_grad_any(tensors))
    autograd::record_many(out, "stack", tensors, autograd::stack_backward(tensors.size(), d));
  return out;
}

}  // namespace dm
