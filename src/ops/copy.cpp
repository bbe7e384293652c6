// Moving values between layouts and dtypes: contiguous, clone, to, copy_, fill_, zero_.
#include <string>

#include "autograd/differentiable.hpp"
#include "ops/op_grads.hpp"
#include "backend/backend.hpp"
#include "autograd/version.hpp"
#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "core/kernel_args.hpp"
#include "core/tensor_impl.hpp"

namespace dm {

Strides broadcast_strides(const TensorImpl& t, const Shape& target, const char* op) {
  const int n = target.size(), m = t.shape.size();
  if (m > n)
    throw ShapeError(std::string("[") + op + "] cannot broadcast shape " + t.shape.str() + " to " + target.str());
  Strides out = target;
  for (int i = 0; i < n; ++i) {
    const int j = i - (n - m);
    if (j < 0) {
      out[i] = 0;
    } else if (t.shape[j] == target[i]) {
      out[i] = t.strides[j];
    } else if (t.shape[j] == 1) {
      out[i] = 0;
    } else {
      throw ShapeError(std::string("[") + op + "] cannot broadcast shape " + t.shape.str() + " to " + target.str());
    }
  }
  return out;
}

Device common_device(std::initializer_list<const Tensor*> tensors, const char* op) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;  // an absent optional argument, such as a layer without bias
    if (!first) {
      first = t;
    } else if (t->device() != first->device()) {
      throw DeviceError(std::string("[") + op + "] tensors are on different devices: " + first->device().str() +
                        " and " + t->device().str());
    }
  }
  return first ? first->device() : Device::cpu();
}

namespace {

// dst[i] = src[i] (converted to dst's dtype) over dst's shape; src is read through `src_strides`.
// `fresh`: dst was just allocated. Both live on `device`.
void strided_copy(const TensorImpl& dst, const TensorImpl& src, const Strides& src_strides, bool fresh) {
  backend::backend_for(dst.storage->device()).copy(output_of(dst, fresh), operand_of(src, src_strides));
}

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  const auto& im = impl_of(*this, "clone");
  Tensor out = make_tensor(im.shape, im.dtype, im.storage->device());
  strided_copy(*out.impl(), im, im.strides, true);
  return autograd::differentiable(out, *this, "clone", [&] { return autograd::identity_backward(*this); });
}

Tensor Tensor::to(DType dtype) const {
  const auto& im = impl_of(*this, "to");
  if (im.dtype == dtype) return *this;
  Tensor out = make_tensor(im.shape, dtype, im.storage->device());
  strided_copy(*out.impl(), im, im.strides, true);
  if (!is_floating(dtype)) return out;  // an integer result carries no gradient
  return autograd::differentiable(out, *this, "to", [&] { return autograd::identity_backward(*this); });
}

Tensor Tensor::to(Device device) const {
  const auto& im = impl_of(*this, "to");
  const Device from = im.storage->device();
  if (from == device) return *this;
  if (from.is_cpu() && device.is_cpu()) {
    // Logical CPU devices share memory, but a tensor reports the device its storage belongs to,
    // so moving between them is a copy (as between two GPUs).
    Tensor out = make_tensor(im.shape, im.dtype, device);
    strided_copy(*out.impl(), im, im.strides, true);
    return autograd::differentiable(out, *this, "to", [&] { return autograd::identity_backward(*this); });
  }
  const std::size_t nbytes = static_cast<std::size_t>(im.shape.numel()) * itemsize(im.dtype);
  // Host and device memory meet only in contiguous byte copies: a strided source is made
  // contiguous on its own device first.
  if (from.is_cpu()) {
    Tensor src = contiguous();
    Tensor out = make_tensor(im.shape, im.dtype, device);
    backend::backend_for(device).copy_from_host(out.impl()->data(), src.impl()->data(), nbytes, device.index, {});
    return out;
  }
  const Tensor src = contiguous();
  if (device.kind == from.kind) {
    Tensor out = make_tensor(im.shape, im.dtype, device);
    backend::backend_for(device).copy_on_device(out.impl()->data(), device.index, src.impl()->data(), from.index,
                                                nbytes, {});
    return out;
  }
  Tensor host = make_tensor(im.shape, im.dtype, Device::cpu());
  backend::backend_for(from).copy_to_host(host.impl()->data(), src.impl()->data(), nbytes, from.index, {});
  return device.is_cpu() ? host : host.to(device);
}

Tensor& Tensor::copy_(const Tensor& src) {
  const auto& dst = impl_of(*this, "copy_");
  const auto& s = impl_of(src, "copy_");
  common_device({this, &src}, "copy_");
  const Strides st = broadcast_strides(s, dst.shape, "copy_");
  autograd::prepare_inplace(*this, "copy_", &src);
  if (dst.storage == s.storage) {  // overlapping source: read from a private copy
    Tensor tmp = src.clone();
    strided_copy(dst, *tmp.impl(), broadcast_strides(*tmp.impl(), dst.shape, "copy_"), false);
  } else {
    strided_copy(dst, s, st, false);
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  const auto& im = impl_of(*this, "fill_");
  autograd::prepare_inplace(*this, "fill_");
  backend::backend_for(im.storage->device()).fill(output_of(im, false), value);
  return *this;
}

Tensor& Tensor::zero_() {
  const auto& im = impl_of(*this, "zero_");
  autograd::prepare_inplace(*this, "zero_");
  backend::backend_for(im.storage->device()).fill(output_of(im, false), 0.0);
  return *this;
}

}  // namespace dm
