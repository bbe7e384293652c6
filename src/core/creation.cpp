// Creators that fill values: zeros, ones, full, arange, linspace, eye.
#include <cmath>
#include <string>

#include "democratising/base/error.hpp"
#include "democratising/core/tensor.hpp"
#include "base/dispatch.hpp"
#include "tensor_impl.hpp"

namespace dm {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) { return make_tensor(shape, dtype, device); }

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = make_tensor(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = make_tensor(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) { return full(Shape{}, value, dtype, device); }

Tensor Tensor::arange(double start, double end, double step, DType dtype) {
  if (step == 0.0) throw ValueError("[arange] step must be non-zero");
  if (!std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    throw ValueError("[arange] start, end and step must be finite");
  const double count = std::ceil((end - start) / step);
  if (count > 1e12) throw ValueError("[arange] would create " + std::to_string(count) + " elements");
  const auto n = static_cast<std::int64_t>(count > 0 ? count : 0);
  Tensor t = make_tensor(Shape{n}, dtype, Device::cpu());
  dispatch_dtype(dtype, [&]<class T>(TypeTag<T>) {
    T* p = static_cast<T*>(t.data_ptr());
    for (std::int64_t i = 0; i < n; ++i) p[i] = convert<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor Tensor::linspace(double start, double end, std::int64_t steps, DType dtype) {
  if (steps < 0) throw ValueError("[linspace] steps must be non-negative, got " + std::to_string(steps));
  Tensor t = make_tensor(Shape{steps}, dtype, Device::cpu());
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  dispatch_dtype(dtype, [&]<class T>(TypeTag<T>) {
    T* p = static_cast<T*>(t.data_ptr());
    // Like torch.linspace: fill the first half from start and the second half from end, so
    // both endpoints are exact.
    const std::int64_t half = steps / 2;
    for (std::int64_t i = 0; i < steps; ++i) {
      const double v = steps == 1 ? start : i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
      p[i] = convert<T>(v);
    }
  });
  return t;
}

Tensor Tensor::eye(std::int64_t n, std::int64_t m, DType dtype) {
  if (m < 0) m = n;
  if (n < 0) throw ValueError("[eye] n must be non-negative, got " + std::to_string(n));
  Tensor t = zeros(Shape{n, m}, dtype);
  dispatch_dtype(dtype, [&]<class T>(TypeTag<T>) {
    T* p = static_cast<T*>(t.data_ptr());
    for (std::int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = convert<T>(1.0);
  });
  return t;
}

}  // namespace dm
