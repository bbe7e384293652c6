// nn::dropout: y = x * mask, mask = (u < keep) / keep with u uniform from the global generator.
// The mask is kept for the backward, dx = g * mask.
#include <string>
#include <vector>

#include "autograd/record.hpp"
#include "core/dispatch.hpp"
#include "democratising/autograd.hpp"
#include "democratising/nn/functional.hpp"
#include "democratising/runtime.hpp"
#include "op_checks.hpp"

namespace dm::nn {
namespace {

constexpr std::int64_t kElementsPerBlock = 1 << 15;

// out = a * b, all contiguous of n elements.
template <class T>
void multiply(const T* a, const T* b, T* out, std::int64_t n) {
  par_for(n, kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = a[i] * b[i];
  });
}

Tensor product(const Tensor& a, const Tensor& mask, DType result_dtype) {
  const Tensor ac = detail::compute_view(a);
  Tensor out = Tensor::empty(ac.shape(), ac.dtype(), ac.device());
  dispatch_float(ac.dtype(), "dropout", [&]<class T>(TypeTag<T>) {
    multiply(ac.data<T>(), mask.data<T>(), out.data<T>(), ac.numel());
  });
  return out.to(result_dtype);
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training) {
  impl_of(x, "dropout");
  if (!(p >= 0.0 && p < 1.0)) throw ValueError("[dropout] p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0) return x;
  detail::require_cpu({&x}, "dropout");
  detail::require_floating(x, "dropout", "x");
  const DType cd = detail::compute_dtype(x.dtype());
  // mask (x's shape, compute dtype): 1/keep where kept, 0 where dropped.
  Tensor mask = Tensor::rand(x.shape(), cd);
  const double keep = 1.0 - p;
  dispatch_float(cd, "dropout", [&]<class T>(TypeTag<T>) {
    T* m = mask.data<T>();
    const T kept = static_cast<T>(1.0 / keep), threshold = static_cast<T>(keep);
    par_for(mask.numel(), kElementsPerBlock, [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) m[i] = m[i] < threshold ? kept : T(0);
    });
  });
  Tensor y = product(x, mask, x.dtype());
  if (autograd::needs_grad({&x})) {
    const DType dtype = x.dtype();
    autograd::record(y, "dropout", {&x}, [mask, dtype](const Tensor& g) {
      return std::vector<Tensor>{product(g, mask, dtype)};
    });
  }
  return y;
}

}  // namespace dm::nn
