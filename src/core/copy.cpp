// Moving values between layouts and dtypes: contiguous, clone, to, copy_, fill_, zero_.
#include <cstring>
#include <string>

#include "../backend/cuda/cuda_backend.hpp"
#include "autograd/differentiable.hpp"
#include "autograd/version.hpp"
#include "democratising/error.hpp"
#include "democratising/tensor.hpp"
#include "dispatch.hpp"
#include "strided_loop.hpp"
#include "tensor_impl.hpp"

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
  Device d = (*tensors.begin())->device();
  for (const Tensor* t : tensors)
    if (t->device() != d)
      throw DeviceError(std::string("[") + op + "] tensors are on different devices: " + d.str() + " and " +
                        t->device().str());
  return d;
}

namespace {

void require_cpu(const TensorImpl& t, const char* op) {
  if (!t.storage->device().is_cpu())
    throw DeviceError(std::string("[") + op + "] is not available on " + t.storage->device().str() + " yet");
}

// dst[i] = convert(src[i]) over dst's shape; src is read through `src_strides`.
void strided_copy(const TensorImpl& dst, const TensorImpl& src, const Strides& src_strides) {
  const bool same_dtype = dst.dtype == src.dtype;
  StridedPlan<2> plan(dst.shape, {&dst.strides, &src_strides});
  dispatch_dtype(dst.dtype, [&]<class D>(TypeTag<D>) {
    D* out = reinterpret_cast<D*>(dst.data());
    dispatch_dtype(src.dtype, [&]<class S>(TypeTag<S>) {
      const S* in = reinterpret_cast<const S*>(src.data());
      parallel_runs(plan, [&](const auto& off, std::int64_t n, const auto& inner) {
        D* o = out + off[0];
        const S* s = in + off[1];
        if (same_dtype && inner[0] == 1 && inner[1] == 1) {
          std::memcpy(static_cast<void*>(o), s, static_cast<std::size_t>(n) * sizeof(D));
        } else if (inner[0] == 1 && inner[1] == 1) {
          for (std::int64_t i = 0; i < n; ++i) o[i] = convert<D>(s[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i * inner[0]] = convert<D>(s[i * inner[1]]);
        }
      });
    });
  });
}

}  // namespace

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  const auto& im = impl_of(*this, "clone");
  Tensor out = make_tensor(im.shape, im.dtype, im.storage->device());
  if (im.storage->device().is_cuda()) {
    if (!is_contiguous()) throw DeviceError("[clone] strided copies on CUDA are not available yet");
    Tensor host = to(Device::cpu());
    return host.to(im.storage->device());
  }
  strided_copy(*out.impl(), im, im.strides);
  return autograd::differentiable(out, *this, "clone", [&] { return autograd::identity_backward(*this); });
}

Tensor Tensor::to(DType dtype) const {
  const auto& im = impl_of(*this, "to");
  if (im.dtype == dtype) return *this;
  require_cpu(im, "to(dtype)");
  Tensor out = make_tensor(im.shape, dtype, im.storage->device());
  strided_copy(*out.impl(), im, im.strides);
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
    strided_copy(*out.impl(), im, im.strides);
    return autograd::differentiable(out, *this, "to", [&] { return autograd::identity_backward(*this); });
  }
  const std::size_t nbytes = static_cast<std::size_t>(im.shape.numel()) * itemsize(im.dtype);
  if (from.is_cpu()) {
    Tensor src = contiguous();
    Tensor out = make_tensor(im.shape, im.dtype, device);
    cuda_backend::copy_from_host(out.impl()->data(), src.impl()->data(), nbytes, device.index);
    return out;
  }
  if (!is_contiguous()) throw DeviceError("[to] strided copies from CUDA are not available yet");
  Tensor host = make_tensor(im.shape, im.dtype, Device::cpu());
  cuda_backend::copy_to_host(host.impl()->data(), im.data(), nbytes, from.index);
  return device.is_cpu() ? host : host.to(device);
}

Tensor& Tensor::copy_(const Tensor& src) {
  const auto& dst = impl_of(*this, "copy_");
  const auto& s = impl_of(src, "copy_");
  common_device({this, &src}, "copy_");
  require_cpu(dst, "copy_");
  const Strides st = broadcast_strides(s, dst.shape, "copy_");
  autograd::prepare_inplace(*this, "copy_", &src);
  if (dst.storage == s.storage) {  // overlapping source: read from a private copy
    Tensor tmp = src.clone();
    strided_copy(dst, *tmp.impl(), broadcast_strides(*tmp.impl(), dst.shape, "copy_"));
  } else {
    strided_copy(dst, s, st);
  }
  return *this;
}

Tensor& Tensor::fill_(double value) {
  const auto& im = impl_of(*this, "fill_");
  require_cpu(im, "fill_");
  autograd::prepare_inplace(*this, "fill_");
  StridedPlan<1> plan(im.shape, {&im.strides});
  dispatch_dtype(im.dtype, [&]<class T>(TypeTag<T>) {
    const T v = convert<T>(value);
    T* out = reinterpret_cast<T*>(im.data());
    parallel_runs(plan, [&](const auto& off, std::int64_t n, const auto& inner) {
      T* o = out + off[0];
      if (inner[0] == 1) {
        for (std::int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (std::int64_t i = 0; i < n; ++i) o[i * inner[0]] = v;
      }
    });
  });
  return *this;
}

Tensor& Tensor::zero_() {
  const auto& im = impl_of(*this, "zero_");
  if (im.storage->device().is_cpu() && is_contiguous()) {
    autograd::prepare_inplace(*this, "zero_");  // fill_ below does its own
    std::byte* p = im.data();
    const std::int64_t bytes = im.shape.numel() * static_cast<std::int64_t>(itemsize(im.dtype));
    par_for(bytes, std::int64_t{1} << 20, [&](std::int64_t b, std::int64_t e) { std::memset(p + b, 0, static_cast<std::size_t>(e - b)); });
    return *this;
  }
  return fill_(0.0);
}

}  // namespace dm
