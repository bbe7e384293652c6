// Tensor handle basics: storage, properties, element access and the simple creators.
#include "democratising/core/tensor.hpp"

#include <cstring>
#include <string>

#include "backend/backend.hpp"
#include "democratising/base/checked.hpp"
#include "democratising/base/error.hpp"
#include "base/dispatch.hpp"
#include "backend/strided_loop.hpp"
#include "tensor_impl.hpp"

namespace dm {

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = backend::backend_for(device).allocate(nbytes, device.index);
}

Storage::~Storage() { backend::backend_for(device_).release(data_, nbytes_, device_.index); }

Tensor make_tensor(const Shape& shape, DType dtype, Device device) {
  for (auto d : shape)
    if (d < 0) throw ShapeError("[tensor] negative dimension in shape " + shape.str());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(checked_byte_count(shape.numel(), itemsize(dtype), "tensor"), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, const Shape& shape, const Strides& strides, std::int64_t offset) {
  const TensorImpl& b = *base.impl();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = b.storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = b.dtype;
  return Tensor(std::move(impl));
}

const TensorImpl& impl_of(const Tensor& t, const char* op) {
  if (!t.defined()) throw ValueError(std::string("[") + op + "] called on an undefined tensor");
  return *t.impl();
}

const Shape& Tensor::shape() const { return impl_of(*this, "shape").shape; }
const Strides& Tensor::strides() const { return impl_of(*this, "strides").strides; }
int Tensor::dim() const { return shape().size(); }
std::int64_t Tensor::numel() const { return shape().numel(); }
DType Tensor::dtype() const { return impl_of(*this, "dtype").dtype; }
Device Tensor::device() const { return impl_of(*this, "device").storage->device(); }
std::int64_t Tensor::storage_offset() const { return impl_of(*this, "storage_offset").offset; }
std::uint64_t Tensor::version() const { return impl_of(*this, "version").storage->version(); }

std::int64_t Tensor::size(std::int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
std::int64_t Tensor::stride(std::int64_t d) const { return strides()[normalize_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  const auto& im = impl_of(*this, "is_contiguous");
  std::int64_t expected = 1;
  for (int i = im.shape.size() - 1; i >= 0; --i) {
    if (im.shape[i] != 1 && im.strides[i] != expected) return false;
    expected *= im.shape[i];
  }
  return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

void* Tensor::data_ptr() const {
  return impl_of(*this, "data_ptr").data();
}

template <class T>
T* Tensor::data() const {
  if (dtype() != dtype_of_v<T>)
    throw DTypeError(std::string("[data] tensor is ") + std::string(dtype_name(dtype())) + ", asked for " +
                     std::string(dtype_name(dtype_of_v<T>)));
  return static_cast<T*>(data_ptr());
}

void Tensor::synchronize() const {
  const Device d = device();
  backend::backend_for(d).synchronize(d.index);
}

namespace {
// Writes the tensor's elements, converted to T, in row-major order into dst.
template <class T>
void gather_row_major(const TensorImpl& im, T* dst) {
  const Strides dense = contiguous_strides(im.shape);
  StridedPlan<2> plan(im.shape, {&dense, &im.strides});
  dispatch_dtype(im.dtype, [&]<class S>(TypeTag<S>) {
    const S* src = reinterpret_cast<const S*>(im.data());
    plan.for_each_run(0, plan.numel, [&](const auto& off, std::int64_t n, const auto& inner) {
      for (std::int64_t i = 0; i < n; ++i) dst[off[0] + i * inner[0]] = convert<T>(src[off[1] + i * inner[1]]);
    });
  });
}
}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (!device().is_cpu()) return to(Device::cpu()).to_vector<T>();
  const auto n = static_cast<std::size_t>(impl_->shape.numel());
  if constexpr (std::is_same_v<T, bool>) {
    std::unique_ptr<bool[]> tmp(new bool[n]);
    gather_row_major(*impl_, tmp.get());
    return std::vector<bool>(tmp.get(), tmp.get() + n);
  } else {
    std::vector<T> out(n);
    gather_row_major(*impl_, out.data());
    return out;
  }
}

template <class T>
T Tensor::item() const {
  if (numel() != 1)
    throw ShapeError("[item] needs a tensor with one element, got shape " + shape().str());
  return to_vector<T>()[0];
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel())
    throw ShapeError("[from_vector] " + std::to_string(values.size()) + " values do not fill shape " + shape.str() +
                     " (" + std::to_string(shape.numel()) + " elements)");
  Tensor t = make_tensor(shape, dtype_of_v<T>, Device::cpu());
  T* dst = static_cast<T*>(t.data_ptr());
  for (std::size_t i = 0; i < values.size(); ++i) dst[i] = values[i];  // vector<bool> has no data()
  return t;
}

Tensor Tensor::from_buffer(const void* data, const Shape& shape, DType dtype) {
  Tensor t = make_tensor(shape, dtype, Device::cpu());
  if (t.numel() > 0) {
    if (!data) throw ValueError("[from_buffer] null data pointer for shape " + shape.str());
    std::memcpy(t.data_ptr(), data, static_cast<std::size_t>(t.numel()) * itemsize(dtype));
  }
  return t;
}

#define DM_INSTANTIATE(T)                                                          \
  template T* Tensor::data<T>() const;                                             \
  template std::vector<T> Tensor::to_vector<T>() const;                            \
  template T Tensor::item<T>() const;                                              \
  template Tensor Tensor::from_vector<T>(const std::vector<T>&, const Shape&);
DM_INSTANTIATE(float)
DM_INSTANTIATE(double)
DM_INSTANTIATE(bf16)
DM_INSTANTIATE(std::int32_t)
DM_INSTANTIATE(std::int64_t)
DM_INSTANTIATE(std::uint8_t)
DM_INSTANTIATE(bool)
#undef DM_INSTANTIATE

}  // namespace dm
